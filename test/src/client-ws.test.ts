// @twinhub/client end to end over WebSocket (the scenario is in client-scenarios.ts).
import { describeClientScenario } from './client-scenarios.js';

describeClientScenario('ws');
