/**
 * The expansion tree, a recursive schema registered once by $id.
 */
import Type from 'typebox'

export const ExpandNode = Type.Unsafe<Record<string, unknown>>({
  $id: 'ExpandNode',
  type: 'object',
  description:
    "a node of the expansion tree: an operation over children, or a leaf listing subjects; an arrow (organization->can_view_all_clients) is a leaf of the relation it walks (client:c1#organization) listing each object it reaches with that object's tree",
  required: ['object', 'relation'],
  properties: {
    object: { type: 'string', examples: ['client:c1'] },
    relation: { type: 'string', examples: ['view'] },
    operation: { type: 'string', enum: ['union', 'intersection', 'exclusion'] },
    children: { type: 'array', items: { $ref: 'ExpandNode' } },
    subjects: {
      type: 'array',
      items: {
        type: 'object',
        required: ['subject'],
        properties: { subject: { type: 'string' }, tree: { $ref: 'ExpandNode' } },
      },
    },
    truncated: { type: 'boolean' },
  },
})

export const Path = Type.Array(Type.String(), {
  description:
    "steps from the resource to the subject; a step with @ is a relationship the access depends on (an arrow's link, such as client:c1#organization@organization:acme, or a subject set); the last step is the relationship that grants it",
  examples: [
    ['client:c1#view', 'client:c1#organization@organization:acme', 'organization:acme#can_view_all_clients', 'organization:acme#view_all_clients@user:vic'],
  ],
})
