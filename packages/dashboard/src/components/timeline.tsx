// A request's status timeline: pending → delivered → running → completed / failed / expired /
// cancelled, each step with the time it was reached, and a cancel button while it is pending.

import type { RequestRecord } from '@twinhub/client/browser';
import { showTime, showValue } from '../format.js';

export interface Step {
  status: string;
  at?: string;
}

const FINAL = new Set(['completed', 'failed', 'expired', 'cancelled']);

/**
 * The steps a request went through, from its latest record and the statuses seen on the way (a
 * request may skip running, or end before delivery: expired and cancelled come from pending).
 */
export function stepsOf(record: RequestRecord, seen: ReadonlyMap<string, string>): Step[] {
  const steps: Step[] = [{ status: 'pending', at: record.timeRequested }];
  const delivered = record.timeDelivered ?? seen.get('delivered');
  // Running and the ends an agent reports imply delivery, even when no record said so.
  if (delivered || ['delivered', 'running', 'completed', 'failed'].includes(record.status)) steps.push({ status: 'delivered', at: delivered });
  if (seen.has('running') || record.status === 'running') steps.push({ status: 'running', at: seen.get('running') });
  if (FINAL.has(record.status)) steps.push({ status: record.status, at: record.timeEnded ?? seen.get(record.status) });
  return steps;
}

export interface TimelineProps {
  record: RequestRecord;
  seen: ReadonlyMap<string, string>;
  canCancel: boolean;
  onCancel(): void;
  cancelling?: boolean;
}

export function Timeline({ record, seen, canCancel, onCancel, cancelling }: TimelineProps) {
  const steps = stepsOf(record, seen);
  return (
    <div class="request" data-action-id={record.actionId} data-status={record.status}>
      <ol class="timeline" aria-label={`Status of request ${record.actionId}`}>
        {steps.map((step, index) => (
          <li key={step.status} class={`step step-${step.status}`} data-step={step.status} aria-current={index === steps.length - 1 ? 'step' : undefined}>
            <span class="step-name">{step.status}</span> <time dateTime={step.at}>{step.at ? showTime(step.at) : ''}</time>
          </li>
        ))}
      </ol>
      {record.status === 'completed' && record.output !== undefined && <p class="output">Output: {showValue(record.output)}</p>}
      {record.error && (
        <p class="problem">
          {record.error.title}: {record.error.detail}
        </p>
      )}
      {canCancel && record.status === 'pending' && (
        <button type="button" onClick={onCancel} disabled={cancelling}>
          Cancel request
        </button>
      )}
    </div>
  );
}
