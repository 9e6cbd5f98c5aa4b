// Loaded by mocha before any spec: keep logs quiet unless LOG_LEVEL asks for them.
process.env.LOG_LEVEL ??= 'silent';
