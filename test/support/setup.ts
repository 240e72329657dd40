/**
 * Runs before every test file of every project. The SDK warns once per process under Node 20 that
 * its 2027 releases will need Node 22; the lockfile pins today's SDK, so in test output the
 * warning is noise. A value set by whoever runs the tests wins.
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
