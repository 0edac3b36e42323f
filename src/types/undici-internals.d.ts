// Types for the undici modules that src/http/undici-modules.ts loads directly (see there
// for why). They are the same classes and functions the package entry point re-exports.
declare module 'undici/lib/dispatcher/agent.js' {
  const Agent: typeof import('undici').Agent;
  export default Agent;
}
declare module 'undici/lib/core/connect.js' {
  const buildConnector: typeof import('undici').buildConnector;
  export default buildConnector;
}
declare module 'undici/lib/api/api-request.js' {
  function request(
    this: import('undici').Dispatcher,
    opts: import('undici').Dispatcher.RequestOptions,
  ): Promise<import('undici').Dispatcher.ResponseData>;
  export default request;
}
