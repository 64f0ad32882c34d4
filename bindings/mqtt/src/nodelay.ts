// MQTT traffic is many small packets answered by small packets: with Nagle's algorithm on, each
// answer waits for the peer's delayed ACK (~40 ms). mqtt.js leaves it on, so every mqtt.js
// connection the hub or its tests make turns it off, on every (re)connect.
import type { MqttClient } from 'mqtt';

export function disableNagle(client: MqttClient): void {
  const apply = () => (client.stream as { setNoDelay?: (noDelay: boolean) => void } | undefined)?.setNoDelay?.(true);
  apply();
  client.on('connect', apply);
}
