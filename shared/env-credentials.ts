import { fromEnv } from '@aws-sdk/credential-provider-env';
import type { AwsCredentialIdentityProvider, Logger } from '@smithy/types';

/**
 * AWS credentials from the environment only: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
 * AWS_SESSION_TOKEN, which Lambda sets from the function's role (and local mode, the tests and the
 * benches set to dummies). The functions' SDK clients use this instead of the SDK's default chain
 * (`@aws-sdk/credential-provider-node`: environment, then SSO, ini files, processes, web identity,
 * container and instance metadata), whose other links a Lambda function never reaches: they cost
 * about 95 KB of every bundle and load time at each cold start.
 *
 * Two ways: the functions hand it to the SDK clients they create (shared/runtime.ts), so bundled
 * or not (tests, `npm start`) they sign the same way, and the bundles alias
 * `@aws-sdk/credential-provider-node` to this module (BUNDLING in infra/functions.ts), so the
 * default chain every SDK client imports is not bundled at all: `defaultProvider` below stands in
 * for it. Without credentials the first request fails with an error that says which are missing.
 */
export function envCredentials(init: { logger?: Logger } = {}): AwsCredentialIdentityProvider {
  const fromEnvironment = fromEnv(init);
  return async () => {
    try {
      return await fromEnvironment();
    } catch (err) {
      throw new Error(
        'Switchboard: no AWS credentials in the environment: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set ' +
          "(Lambda sets them from the function's role; the functions read credentials from nowhere else)",
        { cause: err },
      );
    }
  };
}

/** `@aws-sdk/credential-provider-node`'s one export the SDK clients use, in the bundles. */
export const defaultProvider = envCredentials;
