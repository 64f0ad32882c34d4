// @twinhub/client end to end over MQTT (the scenario is in client-scenarios.ts).
import { describeClientScenario } from './client-scenarios.js';

describeClientScenario('mqtt');
