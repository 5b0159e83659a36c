/**
 * Remote adapter: a SpiceDB server or cluster over gRPC (@authzed/authzed-node).
 */
import { v1 } from '@authzed/authzed-node'
import { SpiceDbEngine } from './spicedb-engine.js'
import type { SpiceTransport } from './transport.js'

export interface RemoteOptions {
  endpoints: string[]
  presharedKey: string
  insecure: boolean
  timeoutMs: number
}

class RemoteTransport implements SpiceTransport {
  private readonly client: v1.ZedClientInterface

  constructor(opts: RemoteOptions) {
    const security = opts.insecure ? v1.ClientSecurity.INSECURE_PLAINTEXT_CREDENTIALS : v1.ClientSecurity.SECURE
    this.client = v1.NewClient(opts.presharedKey, opts.endpoints[0], security)
  }

  private get p() {
    return this.client.promises
  }

  checkPermission(req: v1.CheckPermissionRequest) {
    return this.p.checkPermission(req)
  }
  checkBulkPermissions(req: v1.CheckBulkPermissionsRequest) {
    return this.p.checkBulkPermissions(req)
  }
  expandPermissionTree(req: v1.ExpandPermissionTreeRequest) {
    return this.p.expandPermissionTree(req)
  }
  writeRelationships(req: v1.WriteRelationshipsRequest) {
    return this.p.writeRelationships(req)
  }
  deleteRelationships(req: v1.DeleteRelationshipsRequest) {
    return this.p.deleteRelationships(req)
  }
  readSchema(req: v1.ReadSchemaRequest) {
    return this.p.readSchema(req)
  }
  writeSchema(req: v1.WriteSchemaRequest) {
    return this.p.writeSchema(req)
  }
  readRelationships(req: v1.ReadRelationshipsRequest) {
    return this.p.readRelationships(req)
  }
  lookupResources(req: v1.LookupResourcesRequest) {
    return this.p.lookupResources(req)
  }
  lookupSubjects(req: v1.LookupSubjectsRequest) {
    return this.p.lookupSubjects(req)
  }
  async close() {
    this.client.close()
  }
}

export function createRemoteEngine(opts: RemoteOptions): SpiceDbEngine {
  const description = `remote (${opts.endpoints.join(', ')})`
  return new SpiceDbEngine(new RemoteTransport(opts), { description, timeoutMs: opts.timeoutMs })
}
