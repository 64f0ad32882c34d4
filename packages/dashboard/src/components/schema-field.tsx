// A form control generated from a WoT data schema: a number field for numbers and integers, a
// checkbox for booleans, a list for enums, a text field for strings, JSON text for anything else
// (objects, arrays). Values are kept as text while edited and parsed on submit; the hub validates
// them against the schema (its error is shown next to the control).

import type { JSX } from 'preact';

export interface DataSchema {
  type?: string;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  multipleOf?: number;
  unit?: string;
  title?: string;
  description?: string;
  readOnly?: boolean;
  writeOnly?: boolean;
  observable?: boolean;
  properties?: Record<string, DataSchema>;
  required?: string[];
}

export type Parsed = { ok: true; value: unknown } | { ok: false; message: string };

type Kind = 'enum' | 'boolean' | 'number' | 'string' | 'json';

export function kindOf(schema: DataSchema | undefined): Kind {
  if (!schema) return 'json';
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return 'enum';
  if (schema.type === 'boolean') return 'boolean';
  if (schema.type === 'number' || schema.type === 'integer') return 'number';
  if (schema.type === 'string') return 'string';
  return 'json';
}

/** The text a control starts with for a value (the current one, or nothing). */
export function draftOf(schema: DataSchema | undefined, value: unknown): string {
  if (value === undefined) {
    const kind = kindOf(schema);
    if (kind === 'boolean') return 'false';
    if (kind === 'enum') return JSON.stringify(schema?.enum?.[0]);
    return '';
  }
  switch (kindOf(schema)) {
    case 'string':
      return typeof value === 'string' ? value : JSON.stringify(value);
    case 'number':
      return typeof value === 'number' ? String(value) : '';
    case 'boolean':
      return value === true ? 'true' : 'false';
    case 'enum':
      return JSON.stringify(value);
    default:
      return JSON.stringify(value, null, 2);
  }
}

/** The value a control's text stands for; out-of-range numbers pass, the hub says what is wrong. */
export function parseDraft(schema: DataSchema | undefined, draft: string): Parsed {
  switch (kindOf(schema)) {
    case 'string':
      return { ok: true, value: draft };
    case 'boolean':
      return { ok: true, value: draft === 'true' };
    case 'number': {
      if (draft.trim() === '') return { ok: false, message: 'Enter a number.' };
      const value = Number(draft);
      return Number.isFinite(value) ? { ok: true, value } : { ok: false, message: `${JSON.stringify(draft)} is not a number.` };
    }
    default:
      try {
        return { ok: true, value: JSON.parse(draft) };
      } catch (error) {
        return { ok: false, message: `Not valid JSON: ${error instanceof Error ? error.message : String(error)}` };
      }
  }
}

export interface SchemaFieldProps {
  id: string;
  label: string;
  schema: DataSchema | undefined;
  draft: string;
  onDraft(draft: string): void;
  /** The id of the element holding this control's error, if any. */
  errorId?: string;
  invalid?: boolean;
  disabled?: boolean;
}

/** One labelled control; its hint names the type, range and unit the schema allows. */
export function SchemaField({ id, label, schema, draft, onDraft, errorId, invalid, disabled }: SchemaFieldProps) {
  const kind = kindOf(schema);
  const hintId = `${id}-hint`;
  const describedBy = [hintId, invalid && errorId ? errorId : undefined].filter(Boolean).join(' ');
  const common = { id, disabled, 'aria-describedby': describedBy, 'aria-invalid': invalid ? ('true' as const) : undefined };
  let control: JSX.Element;
  switch (kind) {
    case 'boolean':
      control = <input {...common} type="checkbox" checked={draft === 'true'} onChange={(e) => onDraft(e.currentTarget.checked ? 'true' : 'false')} />;
      break;
    case 'enum':
      control = (
        <select {...common} value={draft} onChange={(e) => onDraft(e.currentTarget.value)}>
          {(schema?.enum ?? []).map((option) => (
            <option key={JSON.stringify(option)} value={JSON.stringify(option)}>
              {typeof option === 'string' ? option : JSON.stringify(option)}
            </option>
          ))}
        </select>
      );
      break;
    case 'number':
      control = (
        <input
          {...common}
          type="number"
          inputMode={schema?.type === 'integer' ? 'numeric' : 'decimal'}
          step={schema?.multipleOf ?? (schema?.type === 'integer' ? 1 : 'any')}
          min={schema?.minimum}
          max={schema?.maximum}
          value={draft}
          onInput={(e) => onDraft(e.currentTarget.value)}
        />
      );
      break;
    case 'string':
      control = <input {...common} type="text" value={draft} onInput={(e) => onDraft(e.currentTarget.value)} />;
      break;
    default:
      control = <textarea {...common} rows={3} spellcheck={false} class="json" value={draft} onInput={(e) => onDraft(e.currentTarget.value)} />;
  }
  return (
    <div class={`field field-${kind}`}>
      <label for={id}>{label}</label>
      {control}
      <small id={hintId} class="hint">
        {hint(schema)}
      </small>
    </div>
  );
}

function hint(schema: DataSchema | undefined): string {
  if (!schema) return 'any JSON value';
  const parts: string[] = [];
  const kind = kindOf(schema);
  parts.push(kind === 'json' ? `${schema.type ?? 'any'} as JSON` : kind === 'enum' ? 'one of the listed values' : (schema.type ?? kind));
  if (schema.minimum !== undefined || schema.maximum !== undefined) parts.push(`${schema.minimum ?? '…'} to ${schema.maximum ?? '…'}`);
  if (schema.unit) parts.push(schema.unit);
  return parts.join(', ');
}
