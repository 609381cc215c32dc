/**
 * What no function bundle holds (BUNDLING in infra/functions.ts): the SDK's default credential chain
 * with the STS/SSO clients only it uses, the on-demand event-stream serde, and mnemonist (under the
 * DynamoDB client's endpoint cache). Matched against bundle inputs (esbuild's metafile) or source map
 * `sources`, both paths from the repository root.
 */
export const NEVER_BUNDLED =
  /node_modules\/(@aws-sdk\/(credential-provider-(node|ini|sso|process|web-identity|http|login)|nested-clients|token-providers)|@smithy\/core\/dist-es\/submodules\/event-streams|mnemonist|obliterator)\//;
