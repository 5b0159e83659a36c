/**
 * In-process serialization of events about the same object (a client, a program...). Not
 * needed for correctness, which preconditions guarantee even across replicas, but it spares
 * concurrent events on one object from re-planning against each other.
 */
import { GOVERNING } from '../authorize/governing.js'
import type { DomainEvent } from '../contract/schemas.js'

export class KeyedSerializer {
  private readonly tails = new Map<string, Promise<unknown>>()

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve()
    const result = previous.then(fn, fn)
    const tail = result.catch(() => undefined)
    this.tails.set(key, tail)
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key)
    })
    return result
  }
}

/** the object an event is about: its governing resource, else its first data field */
export function lockKey(event: DomainEvent): string {
  const rule = GOVERNING[event.type]
  const data = event.data as Record<string, string>
  if ('resourceType' in rule) return `${rule.resourceType}:${data[rule.idFrom]}`
  return `${event.type}:${Object.values(data)[0]}`
}
