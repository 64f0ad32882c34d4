// Public surface of the WebSocket binding. Test helpers live at '@twinhub/binding-ws/testing'.
export { attachWsBinding, type WsBinding, type WsBindingOptions } from './ws-binding.js';
export { WS_SUBPROTOCOL, WTP_SUBPROTOCOL } from './handshake.js';
export { WTP_DRAFT } from './web-thing-protocol.js';
