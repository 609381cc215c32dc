// Every test process talks to local endpoints only: dummy credentials and a region, as in local mode.
process.env.AWS_REGION ??= 'us-east-1';
process.env.AWS_ACCESS_KEY_ID ??= 'test';
process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
// Node 20 here; Lambda runs 22. The SDK's reminder about that is noise in test output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
// Powertools' EMF output is for CloudWatch, not for test logs.
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
