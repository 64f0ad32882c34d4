// A twin's tags (hub-side metadata, not part of the TD): shown to everyone who may read the twin,
// edited by operators and admins (updatetags replaces the whole set).

import { useEffect, useState } from 'preact/hooks';
import { ProblemText } from '../components/problem.js';
import { useSession } from '../session.js';

interface TagRow {
  key: string;
  value: string;
}

const toRows = (tags: Record<string, string>): TagRow[] => Object.entries(tags).map(([key, value]) => ({ key, value }));

export function TagsEditor({ thingId, tags, canEdit, onSaved }: { thingId: string; tags: Record<string, string>; canEdit: boolean; onSaved(): void }) {
  const { client } = useSession();
  const [rows, setRows] = useState<TagRow[]>(() => toRows(tags));
  const [editing, setEditing] = useState(false);
  const [problem, setProblem] = useState<unknown>();
  const [saved, setSaved] = useState<string>();
  const serialized = JSON.stringify(tags);

  // Follow the hub's tags while not editing (another operator may change them).
  useEffect(() => {
    if (!editing) setRows(toRows(tags));
  }, [serialized, editing]);

  async function save(event: Event) {
    event.preventDefault();
    const next: Record<string, string> = {};
    for (const { key, value } of rows) {
      if (key.trim() === '') continue;
      next[key.trim()] = value;
    }
    setProblem(undefined);
    try {
      await client.request({ operation: 'updatetags', thingId, input: next });
      setEditing(false);
      setSaved('Tags saved.');
      onSaved();
    } catch (error) {
      setProblem(error);
    }
  }

  const update = (index: number, field: keyof TagRow, text: string) => setRows(rows.map((row, i) => (i === index ? { ...row, [field]: text } : row)));

  return (
    <section aria-labelledby="tags-heading">
      <h2 id="tags-heading">Tags</h2>
      {!editing && (
        <>
          {rows.length === 0 ? (
            <p>No tags.</p>
          ) : (
            <ul class="tags" data-testid="tags">
              {rows.map(({ key, value }) => (
                <li key={key}>
                  <span class="tag">
                    {key}: {value}
                  </span>
                </li>
              ))}
            </ul>
          )}
          {canEdit && (
            <button
              type="button"
              onClick={() => {
                setEditing(true);
                setSaved(undefined);
              }}
            >
              Edit tags
            </button>
          )}
          <span aria-live="polite"> {saved}</span>
        </>
      )}
      {editing && (
        <form onSubmit={save} aria-label="Edit tags">
          {rows.map((row, index) => (
            <div class="tag-row" key={index}>
              <label for={`tag-key-${index}`}>Key of tag {index + 1}</label>
              <input id={`tag-key-${index}`} value={row.key} onInput={(e) => update(index, 'key', e.currentTarget.value)} />
              <label for={`tag-value-${index}`}>Value of tag {index + 1}</label>
              <input id={`tag-value-${index}`} value={row.value} onInput={(e) => update(index, 'value', e.currentTarget.value)} />
              <button type="button" onClick={() => setRows(rows.filter((_, i) => i !== index))} aria-label={`Remove tag ${row.key || index + 1}`}>
                Remove
              </button>
            </div>
          ))}
          <button type="button" onClick={() => setRows([...rows, { key: '', value: '' }])}>
            Add tag
          </button>{' '}
          <button type="submit">Save tags</button>{' '}
          <button
            type="button"
            onClick={() => {
              setEditing(false);
              setProblem(undefined);
            }}
          >
            Cancel
          </button>
          <ProblemText error={problem} />
        </form>
      )}
    </section>
  );
}
