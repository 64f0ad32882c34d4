// @twinhub/binding-sse: server-sent event streams bound to hub sessions, used by the HTTP binding's
// observe/subscribe routes and the agents' request stream.
export { formatFrame, formatComment, type SseFrame } from './frame.js';
export {
  agentRequestFormatter,
  directoryFormatter,
  isNotification,
  namedNotificationFormatter,
  valueFormatter,
  type SseFormatter,
} from './formatters.js';
export { DEFAULT_HEARTBEAT_SECONDS, SSE_HEADERS, SseStream, type SseStartOptions, type SseStreamOptions } from './sse-stream.js';
