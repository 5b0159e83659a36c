#!/usr/bin/env node
// `npx trellis`: the CLI is TypeScript (src/cli/trellis.ts), run through tsx's loader.
import { register } from 'tsx/esm/api'
register()
await import('../src/cli/trellis.ts')
