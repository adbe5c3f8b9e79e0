/**
 * Operations: products per status, the models and tasks being served, uploads refused because
 * their key fits no product, and (on the local stack) dead-lettered messages with redrive. On AWS
 * the dead letters are in the SQS dead-letter queues (docs/deployment.md, "Operations").
 */
import { useState } from 'preact/hooks';
import { ApiError } from '../api/client.js';
import type { Rejection } from '../api/types.js';
import { useConsole } from '../context.js';
import { errorMessage, percent } from '../format.js';
import { useLoad } from '../useLoad.js';

const Rejections = () => {
  const { api } = useConsole();
  const [more, setMore] = useState<Rejection[]>([]);
  const [cursor, setCursor] = useState<string | undefined>();
  const first = useLoad(async () => {
    const page = await api.rejections({ limit: '20' });
    setMore([]);
    setCursor(page.nextCursor);
    return page;
  }, []);
  const rows = [...(first.data?.items ?? []), ...more];
  return (
    <section aria-labelledby="rejections-title">
      <h2 id="rejections-title">Rejected uploads</h2>
      <p class="hint">Objects whose key fits no product ({'{vendor}/{productId}/images/…'} or product.json), newest first.</p>
      {first.error && <p class="error">{first.error}</p>}
      {rows.length === 0 && !first.loading ? (
        <p>No rejected uploads.</p>
      ) : (
        <table class="data">
          <thead>
            <tr>
              <th scope="col">Key</th>
              <th scope="col">Code</th>
              <th scope="col">Reason</th>
              <th scope="col">Uploaded</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr>
                <td>
                  <code>{r.key}</code>
                </td>
                <td>{r.code}</td>
                <td>{r.reason}</td>
                <td>{new Date(r.eventTime).toLocaleString()}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {cursor && (
        <button
          type="button"
          onClick={async () => {
            const page = await api.rejections({ limit: '20', cursor });
            setMore((m) => [...m, ...page.items]);
            setCursor(page.nextCursor);
          }}
        >
          More rejections
        </button>
      )}
    </section>
  );
};

const DeadLetters = () => {
  const { api } = useConsole();
  const letters = useLoad(async () => {
    try {
      return await api.deadLetters();
    } catch (error) {
      // Only the local stack answers this route.
      if (error instanceof ApiError && (error.status === 404 || error.status === 403)) return undefined;
      throw error;
    }
  }, []);
  const [message, setMessage] = useState('');
  const redrive = async (messageId?: string) => {
    try {
      const result = await api.redrive(messageId);
      setMessage(`Redrove ${result.redriven.length} message${result.redriven.length === 1 ? '' : 's'}.`);
      letters.reload();
    } catch (error) {
      setMessage(`Redrive failed: ${errorMessage(error)}`);
    }
  };
  return (
    <section aria-labelledby="dead-title">
      <h2 id="dead-title">Dead letters</h2>
      <p role="status" class="status-line">
        {message}
      </p>
      {letters.error && <p class="error">{letters.error}</p>}
      {!letters.loading && letters.data === undefined && !letters.error && <p>On AWS, failed messages wait in the SQS dead-letter queues (see the deployment guide, “Operations”).</p>}
      {letters.data && letters.data.items.length === 0 && <p>No dead letters.</p>}
      {letters.data && letters.data.items.length > 0 && (
        <>
          <table class="data">
            <thead>
              <tr>
                <th scope="col">Queue</th>
                <th scope="col">Keys</th>
                <th scope="col">Receives</th>
                <th scope="col">Last error</th>
                <th scope="col">Action</th>
              </tr>
            </thead>
            <tbody>
              {letters.data.items.map((l) => (
                <tr>
                  <td>{l.queue}</td>
                  <td>
                    <code>{l.keys.join(', ')}</code>
                  </td>
                  <td>{l.receiveCount}</td>
                  <td>{l.error}</td>
                  <td>
                    <button type="button" onClick={() => redrive(l.messageId)} aria-label={`Redrive ${l.keys.join(', ')}`}>
                      Redrive
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <button type="button" onClick={() => redrive()}>
            Redrive all {letters.data.total}
          </button>
        </>
      )}
    </section>
  );
};

export const Operations = () => {
  const { api, tasks } = useConsole();
  const listing = useLoad(() => api.products({ limit: '1' }), []);
  const facets = listing.data?.facets;
  return (
    <div class="operations-page">
      <h1 tabIndex={-1}>Operations</h1>
      <section aria-labelledby="counts-title">
        <h2 id="counts-title">Products per status</h2>
        {facets && (
          <dl class="counts">
            <dt>all</dt>
            <dd>{facets.products}</dd>
            {(['tagged', 'pending', 'error'] as const).map((s) => (
              <>
                <dt>{s}</dt>
                <dd data-status={s}>{facets.status[s] ?? 0}</dd>
              </>
            ))}
          </dl>
        )}
      </section>
      <section aria-labelledby="models-title">
        <h2 id="models-title">Models and tasks</h2>
        <dl class="versions">
          {Object.entries(tasks.modelVersions).map(([kind, version]) => (
            <>
              <dt>{kind}</dt>
              <dd>{version}</dd>
            </>
          ))}
        </dl>
        <table class="data">
          <thead>
            <tr>
              <th scope="col">Task</th>
              <th scope="col">Labels</th>
              <th scope="col">Abstains below</th>
            </tr>
          </thead>
          <tbody>
            {tasks.tasks.map((t) => (
              <tr>
                <td>{t.name}</td>
                <td>{t.labels.join(', ')}</td>
                <td>{percent(t.threshold)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {tasks.imageViews.length > 0 && <p>Image views: {tasks.imageViews.map((v) => `${v.name} (${v.kind})`).join(', ')}.</p>}
      </section>
      <Rejections />
      <DeadLetters />
    </div>
  );
};
