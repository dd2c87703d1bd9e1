// Stands in for the `debug` package in the Lambda bundles. ioredis logs its
// internals through `debug` only when DEBUG=ioredis:* is set, which no
// function does (our logs are Powertools' structured JSON); the real package
// and its `ms` dependency would add ~8 KB to every Redis function.
function createDebug() {
  const log = () => {};
  log.enabled = false;
  log.destroy = () => true;
  log.log = () => {};
  return log;
}
module.exports = createDebug;
module.exports.default = createDebug;
