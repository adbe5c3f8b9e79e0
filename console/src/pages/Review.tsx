/**
 * The review queue of one task, for the keyboard: digits pick a label (1–9, then 0 for the tenth),
 * `a` accepts the models' best label, `j`/`k` go to the next/previous product. A decision is a
 * human correction (PUT), and the queue moves on to the next product; the queue is the API's,
 * lowest margin first, loaded a page at a time.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import type { ReviewEntry } from '../api/types.js';
import { useConsole } from '../context.js';
import { errorMessage, percent } from '../format.js';
import { hrefs, replaceQuery } from '../router.js';

const PAGE = 25;

/** The key that picks label `index` (0-based): 1…9, then 0. */
export const digitFor = (index: number): string | undefined => (index < 9 ? String(index + 1) : index === 9 ? '0' : undefined);
const indexForDigit = (key: string): number | undefined => (/^[0-9]$/.test(key) ? (key === '0' ? 9 : Number(key) - 1) : undefined);

const typing = (target: EventTarget | null): boolean => target instanceof HTMLElement && (target.isContentEditable || ['INPUT', 'SELECT', 'TEXTAREA'].includes(target.tagName));

interface Decision {
  value: string;
  accepted: boolean;
}

export const Review = ({ query }: { query: URLSearchParams }) => {
  const { api, tasks } = useConsole();
  const taskName = query.get('task') ?? tasks.tasks[0]?.name ?? '';
  const task = tasks.tasks.find((t) => t.name === taskName) ?? tasks.tasks[0];
  const vendor = query.get('vendor') ?? '';
  const [items, setItems] = useState<ReviewEntry[]>([]);
  const [cursor, setCursor] = useState<string | undefined>();
  const [exhausted, setExhausted] = useState(false);
  const [at, setAt] = useState(0);
  const [decisions, setDecisions] = useState<Map<string, Decision>>(new Map());
  const [message, setMessage] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [vendors, setVendors] = useState<string[]>([]);
  const loading = useRef(false);
  const panel = useRef<HTMLElement>(null);

  const keyOf = (item: ReviewEntry) => `${item.vendor}/${item.productId}`;

  const loadMore = async (reset: boolean) => {
    if (loading.current || (!reset && exhausted)) return;
    loading.current = true;
    try {
      const page = await api.review({ task: task?.name, vendor: vendor || undefined, limit: String(PAGE), cursor: reset ? undefined : cursor });
      setItems((old) => {
        const seen = new Set((reset ? [] : old).map(keyOf));
        return [...(reset ? [] : old), ...page.items.filter((i) => !seen.has(keyOf(i)))];
      });
      setCursor(page.nextCursor);
      setExhausted(page.nextCursor === undefined);
      setError(undefined);
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      loading.current = false;
    }
  };

  useEffect(() => {
    setItems([]);
    setAt(0);
    setDecisions(new Map());
    setCursor(undefined);
    setExhausted(false);
    void loadMore(true);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [task?.name, vendor]);

  useEffect(() => {
    void api.products({ limit: '1' }).then((l) => setVendors(Object.keys(l.facets.vendors).sort()), () => undefined);
  }, [api]);

  // Keep a page ahead of the person.
  useEffect(() => {
    if (items.length - at < 5 && !exhausted) void loadMore(false);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [at, items.length, exhausted]);

  const current = items[at];
  // What the keyboard acts on: read when a key arrives, not when the listener was made, so a key
  // pressed right after the page moved on never lands on the product before.
  const live = useRef({ items, at, task, exhausted });
  live.current = { items, at, task, exhausted };

  const move = (step: number) => {
    const { items: list, at: now } = live.current;
    const next = Math.max(0, Math.min(list.length - 1, now + step));
    live.current = { ...live.current, at: next };
    setAt(next);
  };

  /** Records the decision for the product shown and moves on at once; the PUT finishes behind. */
  const decide = async (value: string, accepted: boolean) => {
    const { items: list, at: position, task: forTask, exhausted: all } = live.current;
    const item = list[position];
    if (!item || !forTask) return;
    move(1);
    try {
      await api.correct(item.vendor, item.productId, forTask.name, value);
      setDecisions((d) => new Map(d).set(keyOf(item), { value, accepted }));
      setMessage(`${accepted ? 'Accepted' : 'Set'} ${forTask.name} = ${value} for ${item.title ?? item.productId} (${position + 1} of ${list.length}${all ? '' : '+'}).`);
    } catch (e) {
      setMessage(`Not saved for ${item.title ?? item.productId}: ${errorMessage(e)} (k goes back to it).`);
    }
  };

  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.altKey || event.ctrlKey || event.metaKey || typing(event.target)) return;
      const { items: list, at: now, task } = live.current;
      const current = list[now];
      if (!current || !task) return;
      const index = indexForDigit(event.key);
      if (index !== undefined) {
        const label = task.labels[index];
        if (label !== undefined) {
          event.preventDefault();
          void decide(label, false);
        }
      } else if (event.key === 'a') {
        const best = current.candidates[0]?.value ?? current.value;
        if (best) {
          event.preventDefault();
          void decide(best, true);
        }
      } else if (event.key === 'j') {
        event.preventDefault();
        move(1);
      } else if (event.key === 'k') {
        event.preventDefault();
        move(-1);
      }
    };
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  const setQuery = (name: string, value: string) => {
    const next = new URLSearchParams(query);
    if (value === '') next.delete(name);
    else next.set(name, value);
    replaceQuery('/review', next);
  };

  const decided = current ? decisions.get(keyOf(current)) : undefined;
  const done = [...decisions.values()].length;
  return (
    <div class="review-page">
      <h1 tabIndex={-1}>Review queue</h1>
      <form class="review-controls" onSubmit={(e) => e.preventDefault()}>
        <label for="r-task">Task</label>
        <select id="r-task" value={task?.name} onChange={(e) => setQuery('task', e.currentTarget.value)}>
          {tasks.tasks.map((t) => (
            <option value={t.name}>{t.name}</option>
          ))}
        </select>
        <label for="r-vendor">Vendor</label>
        <select id="r-vendor" value={vendor} onChange={(e) => setQuery('vendor', e.currentTarget.value)}>
          <option value="">All vendors</option>
          {vendors.map((v) => (
            <option value={v}>{v}</option>
          ))}
        </select>
      </form>
      <p class="hint" id="review-keys">
        Keys: <kbd>1</kbd>–<kbd>9</kbd>, <kbd>0</kbd> pick a label · <kbd>a</kbd> accepts the models’ answer · <kbd>j</kbd> next · <kbd>k</kbd> previous. {done} decided in this session.
      </p>
      <p role="status" aria-live="polite" class="status-line">
        {message}
      </p>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      {!current && !error && <p>{loading.current ? 'Loading…' : 'Nothing to review for this task.'}</p>}
      {current && task && (
        <section class="review-item" ref={panel} aria-labelledby="review-title" aria-describedby="review-keys" data-product={keyOf(current)}>
          <div class="review-picture">{current.thumbnailUrl ? <img src={current.thumbnailUrl} alt={`${current.title ?? current.productId}`} width="224" height="224" /> : <span class="no-image">no image</span>}</div>
          <div class="review-detail">
            <h2 id="review-title">
              {at + 1}. {current.title ?? current.productId}
            </h2>
            <p>
              <a href={hrefs.product(current.vendor, current.productId)}>
                {current.vendor} · {current.productId}
              </a>
            </p>
            <p>
              Models: <strong>{current.value ?? 'abstained'}</strong>, confidence {percent(current.confidence)}, margin {percent(current.margin)}.
              {decided && (
                <strong class="decided">
                  {' '}
                  Decided: {decided.value}
                  {decided.accepted ? ' (accepted)' : ''}
                </strong>
              )}
            </p>
            <ol class="labels" aria-label={`${task.name} labels`}>
              {task.labels.map((label, i) => {
                const candidate = current.candidates.find((c) => c.value === label);
                const digit = digitFor(i);
                return (
                  <li class={candidate === current.candidates[0] ? 'best' : ''}>
                    <button type="button" onClick={() => void decide(label, false)} aria-keyshortcuts={digit}>
                      {digit !== undefined && <kbd>{digit}</kbd>} {label}
                      {candidate && <span class="p"> {percent(candidate.p)}</span>}
                    </button>
                  </li>
                );
              })}
            </ol>
            <p>
              <button type="button" onClick={() => void decide(current.candidates[0]?.value ?? current.value ?? '', true)} aria-keyshortcuts="a">
                <kbd>a</kbd> Accept {current.candidates[0]?.value}
              </button>{' '}
              <button type="button" onClick={() => move(-1)} disabled={at === 0} aria-keyshortcuts="k">
                <kbd>k</kbd> Previous
              </button>{' '}
              <button type="button" onClick={() => move(1)} disabled={at >= items.length - 1} aria-keyshortcuts="j">
                <kbd>j</kbd> Next
              </button>
            </p>
          </div>
        </section>
      )}
    </div>
  );
};
