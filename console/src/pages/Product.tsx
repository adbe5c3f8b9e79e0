/**
 * Why a product was tagged so: every image with its model views, per attribute the ensemble's
 * answer and each source's vote (value, confidence, weight), the vendor's color name and what it
 * normalized to, the vendor text before and after cleaning, model versions and errors; and the
 * corrections a merchandiser makes, which win at once and can be undone.
 */
import { useState } from 'preact/hooks';
import { ApiError } from '../api/client.js';
import type { Product as ProductData, ProductAttribute, ProductEvidence, TaskInfo } from '../api/types.js';
import { StatusBadge } from '../components/Chip.js';
import { ImageEvidence } from '../components/ImageEvidence.js';
import { useConsole } from '../context.js';
import { confidenceLevel, errorMessage, percent, sourceName } from '../format.js';
import { hrefs } from '../router.js';
import { useLoad } from '../useLoad.js';

const SourceBars = ({ attribute }: { attribute: ProductAttribute }) => (
  <table class="sources">
    <caption class="visually-hidden">Votes of each source</caption>
    <thead>
      <tr>
        <th scope="col">Source</th>
        <th scope="col">Value</th>
        <th scope="col">Confidence</th>
        <th scope="col">Weight</th>
      </tr>
    </thead>
    <tbody>
      {Object.entries(attribute.sources).map(([id, vote]) => (
        <tr data-source={id}>
          <th scope="row">{sourceName(id)}</th>
          <td>{vote.value}</td>
          <td>
            <span class="bar" aria-hidden="true">
              <span class="bar-fill" style={{ width: percent(vote.confidence) }} />
            </span>
            {percent(vote.confidence)}
          </td>
          <td>
            <span class="bar" aria-hidden="true">
              <span class="bar-fill bar-weight" style={{ width: percent(vote.weight) }} />
            </span>
            {percent(vote.weight)}
          </td>
        </tr>
      ))}
    </tbody>
  </table>
);

interface Undo {
  task: string;
  /** The correction before the last change: a label, or none. */
  previous: string | undefined;
}

const AttributePanel = ({
  task,
  attribute,
  corrected,
  busy,
  onSet,
  onClear,
}: {
  task: TaskInfo;
  attribute: ProductAttribute | undefined;
  corrected: string | undefined;
  busy: boolean;
  onSet: (value: string) => void;
  onClear: () => void;
}) => {
  const [choice, setChoice] = useState(corrected ?? attribute?.value ?? task.labels[0] ?? '');
  const level = attribute ? confidenceLevel(attribute.confidence, corrected !== undefined, attribute.value) : 'abstained';
  return (
    <section class="attribute" aria-labelledby={`attr-${task.name}`} data-task={task.name}>
      <h3 id={`attr-${task.name}`}>
        {task.name}: <span class={`answer chip chip-${level}`}>{attribute?.value ?? (attribute ? 'abstained' : 'no prediction')}</span>
      </h3>
      {attribute && (
        <p class="hint">
          {corrected !== undefined ? 'Set by a person (wins over every model).' : `Confidence ${percent(attribute.confidence)}; the ensemble abstains below ${percent(task.threshold)}.`}
        </p>
      )}
      {attribute && <SourceBars attribute={attribute} />}
      <form
        class="correct"
        onSubmit={(e) => {
          e.preventDefault();
          onSet(choice);
        }}
      >
        <label for={`set-${task.name}`}>Correct {task.name}</label>
        <select id={`set-${task.name}`} value={choice} onChange={(e) => setChoice(e.currentTarget.value)}>
          {task.labels.map((label) => (
            <option value={label}>{label}</option>
          ))}
        </select>
        <button type="submit" disabled={busy}>
          Set {task.name}
        </button>
        {corrected !== undefined && (
          <button type="button" disabled={busy} onClick={onClear}>
            Clear correction
          </button>
        )}
      </form>
    </section>
  );
};

const prettyDocument = (document: string): string => {
  try {
    return JSON.stringify(JSON.parse(document), null, 2);
  } catch {
    return document;
  }
};

const Errors = ({ product }: { product: ProductData }) => {
  const problems = [
    ...product.images.flatMap((image) => [
      ...(image.status === 'error' ? [`${image.key}: ${image.errorCode ?? 'error'} — ${image.error ?? ''}`] : []),
      ...(image.status === 'pending' && image.lastError ? [`${image.key}: pending after ${image.lastErrorCode ?? 'a failure'} — ${image.lastError}`] : []),
    ]),
    ...(product.text.status === 'error' ? [`${product.text.key ?? 'product.json'}: ${product.text.errorCode ?? 'error'} — ${product.text.error ?? ''}`] : []),
    ...(product.text.status === 'pending' && product.text.lastError ? [`${product.text.key ?? 'product.json'}: pending after ${product.text.lastErrorCode ?? 'a failure'} — ${product.text.lastError}`] : []),
  ];
  if (problems.length === 0) return null;
  return (
    <section aria-labelledby="errors-title" class="errors">
      <h2 id="errors-title">Errors</h2>
      <ul>
        {problems.map((p) => (
          <li>{p}</li>
        ))}
      </ul>
    </section>
  );
};

export const Product = ({ vendor, productId }: { vendor: string; productId: string }) => {
  const { api, tasks } = useConsole();
  const product = useLoad(() => api.product(vendor, productId), [vendor, productId]);
  const evidence = useLoad<ProductEvidence>(() => api.evidence(vendor, productId), [vendor, productId]);
  const [busy, setBusy] = useState(false);
  const [undo, setUndo] = useState<Undo | undefined>();
  const [message, setMessage] = useState('');
  const data = product.data;

  const apply = async (task: string, change: () => Promise<ProductData>, done: string) => {
    if (!data) return;
    setBusy(true);
    const previous = data.corrections[task];
    try {
      product.set(await change());
      setUndo({ task, previous });
      setMessage(done);
    } catch (error) {
      setMessage(error instanceof ApiError ? `Not saved: ${error.message}` : `Not saved: ${errorMessage(error)}`);
    } finally {
      setBusy(false);
    }
  };

  const undoLast = async () => {
    if (!undo || !data) return;
    const { task, previous } = undo;
    setBusy(true);
    try {
      product.set(previous === undefined ? await api.clear(vendor, productId, task) : await api.correct(vendor, productId, task, previous));
      setUndo(undefined);
      setMessage(previous === undefined ? `Undone: ${task} is the models’ again.` : `Undone: ${task} is ${previous} again.`);
    } catch (error) {
      setMessage(`Undo failed: ${errorMessage(error)}`);
    } finally {
      setBusy(false);
    }
  };

  if (product.error) {
    return (
      <div>
        <h1 tabIndex={-1}>Product {vendor}/{productId}</h1>
        <p role="alert" class="error">
          {product.error}
        </p>
        <a href={hrefs.grid()}>Back to the catalog</a>
      </div>
    );
  }
  const title = evidence.data?.title ?? productId;
  return (
    <div class="product-page" aria-busy={product.loading || evidence.loading}>
      <p>
        <a href={hrefs.grid()}>← Catalog</a>
      </p>
      <h1 tabIndex={-1}>{title}</h1>
      {data && (
        <p class="product-meta">
          {vendor} · {productId} · updated {new Date(data.updatedAt).toLocaleString()}{' '}
          <StatusBadge status={data.images.some((i) => i.status === 'error') || data.text.status === 'error' ? 'error' : data.images.some((i) => i.status === 'pending') || data.text.status === 'pending' ? 'pending' : 'tagged'} />
        </p>
      )}
      <p class="status-line" role="status" aria-live="polite">
        {message}{' '}
        {undo && (
          <button type="button" onClick={undoLast} disabled={busy}>
            Undo
          </button>
        )}
      </p>
      {data && <Errors product={data} />}
      <section aria-labelledby="images-title">
        <h2 id="images-title">Images and model views</h2>
        {evidence.error && <p class="error">{evidence.error}</p>}
        {evidence.data?.images.length === 0 && <p>No images.</p>}
        {evidence.data?.images.map((image) => (
          <ImageEvidence original={image} views={image.views} status={data?.images.find((i) => i.key === image.key)} info={tasks.imageViews} />
        ))}
      </section>
      {data && (
        <section aria-labelledby="attributes-title">
          <h2 id="attributes-title">Attributes</h2>
          <div class="attributes">
            {tasks.tasks.map((task) => (
              <AttributePanel
                key={`${task.name}:${data.corrections[task.name] ?? ''}`}
                task={task}
                attribute={data.attributes[task.name]}
                corrected={data.corrections[task.name]}
                busy={busy}
                onSet={(value) => apply(task.name, () => api.correct(vendor, productId, task.name, value), `Saved: ${task.name} is ${value}.`)}
                onClear={() => apply(task.name, () => api.clear(vendor, productId, task.name), `Cleared the correction of ${task.name}.`)}
              />
            ))}
          </div>
        </section>
      )}
      {data && (
        <section aria-labelledby="color-title">
          <h2 id="color-title">Vendor color</h2>
          {data.vendorColor ? (
            <p>
              The vendor calls it <strong>{data.vendorColor.raw}</strong>, which normalizes to <strong>{data.vendorColor.normalized}</strong>.
            </p>
          ) : (
            <p>The vendor gave no color name.</p>
          )}
        </section>
      )}
      <section aria-labelledby="text-title">
        <h2 id="text-title">Vendor text</h2>
        <div class="texts">
          <div>
            <h3>Raw (product.json)</h3>
            <pre tabIndex={0}>{evidence.data?.document ? prettyDocument(evidence.data.document) : 'No product.json.'}</pre>
          </div>
          <div>
            <h3>Cleaned (what the text model saw)</h3>
            <pre tabIndex={0}>{evidence.data?.text ?? 'No cleaned text.'}</pre>
          </div>
        </div>
      </section>
      {data && (
        <section aria-labelledby="models-title">
          <h2 id="models-title">Model versions</h2>
          <dl class="versions">
            {Object.entries(data.modelVersions).map(([kind, version]) => (
              <>
                <dt>{kind}</dt>
                <dd>{version}</dd>
              </>
            ))}
          </dl>
        </section>
      )}
    </div>
  );
};
