/**
 * How cdk-nag names a resource in an acknowledgement id such as `AwsSolutions-IAM5[Resource::<id>]`:
 * references as `<LogicalId>` (`<LogicalId.Attr>` for GetAtt), pseudo parameters as `<AWS::Region>`,
 * joins flattened. Written here so the construct does not import from cdk-nag, a dev dependency
 * (the tests run cdk-nag and fail on any finding whose acknowledgement this would misname).
 */
export function nagResourceId(resolved: unknown): string {
  if (resolved === undefined) return '';
  if (typeof resolved === 'string') return resolved.replace(/\$\{/g, '<').replace(/\}/g, '>');
  const node = resolved as Record<string, unknown>;
  if (Array.isArray(node['Fn::Join'])) {
    const [delimiter, items] = node['Fn::Join'] as [string, unknown[]];
    return items.map(nagResourceId).join(delimiter);
  }
  if (node['Fn::Sub'] !== undefined) return nagResourceId(node['Fn::Sub']);
  if (Array.isArray(node['Fn::GetAtt'])) {
    const [resource, attribute] = node['Fn::GetAtt'] as [unknown, unknown];
    return `<${nagResourceId(resource)}.${nagResourceId(attribute)}>`;
  }
  if (node['Fn::ImportValue'] !== undefined) return nagResourceId(node['Fn::ImportValue']);
  if (node.Ref !== undefined) return `<${nagResourceId(node.Ref)}>`;
  return JSON.stringify(node);
}
