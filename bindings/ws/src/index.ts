// Public surface of the WebSocket binding. Test helpers live at '@twinhub/binding-ws/testing'.
export { attachWsBinding, type WsBinding, type WsBindingOptions } from './ws-binding.js';
export { WS_SUBPROTOCOL } from './handshake.js';
