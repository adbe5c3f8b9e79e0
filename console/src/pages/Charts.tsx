/**
 * Two small charts per task: how confident the models are across the catalog (the facet
 * counters' histogram), and how often they are right on the products people corrected, against
 * the share they would answer as the abstain threshold moves (from GET /calibration). Each chart
 * has its numbers in a table as well.
 */
import type { TaskCalibration } from '../api/types.js';
import { useConsole } from '../context.js';
import { percent } from '../format.js';
import { useLoad } from '../useLoad.js';

const W = 320;
const H = 160;
const PAD = 28;

const Histogram = ({ task, bins }: { task: string; bins: number[] }) => {
  const max = Math.max(1, ...bins);
  const width = (W - PAD * 2) / bins.length;
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-labelledby={`hist-${task}-title`}>
        <title id={`hist-${task}-title`}>{`Confidence of ${task} across the catalog: ${bins.map((n, i) => `${i * 10}–${i * 10 + 10}%: ${n}`).join(', ')}`}</title>
        <line class="axis" x1={PAD} y1={H - PAD} x2={W - PAD} y2={H - PAD} />
        {bins.map((n, i) => {
          const h = ((H - PAD * 2) * n) / max;
          return <rect class="bar-rect" x={PAD + i * width + 1} y={H - PAD - h} width={width - 2} height={h} />;
        })}
        <text x={PAD} y={H - 8} class="tick">
          0%
        </text>
        <text x={W - PAD} y={H - 8} class="tick" text-anchor="end">
          100%
        </text>
        <text x={PAD} y={PAD - 8} class="tick">
          {max} products
        </text>
      </svg>
      <figcaption>{task}: models’ confidence, products per tenth</figcaption>
    </figure>
  );
};

const Curve = ({ task, calibration }: { task: string; calibration: TaskCalibration }) => {
  const x = (coverage: number) => PAD + coverage * (W - PAD * 2);
  const y = (accuracy: number) => H - PAD - accuracy * (H - PAD * 2);
  const points = calibration.curve.map((p) => `${x(p.coverage)},${y(p.accuracy)}`).join(' ');
  const at = calibration.atThreshold;
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-labelledby={`curve-${task}-title`}>
        <title id={`curve-${task}-title`}>
          {`Accuracy against coverage for ${task} on ${calibration.corrected} corrected products` + (at ? `; at the threshold ${percent(calibration.threshold)}: ${percent(at.coverage)} answered, ${percent(at.accuracy)} right` : '')}
        </title>
        <line class="axis" x1={PAD} y1={H - PAD} x2={W - PAD} y2={H - PAD} />
        <line class="axis" x1={PAD} y1={PAD} x2={PAD} y2={H - PAD} />
        {points && <polyline class="curve" points={points} fill="none" />}
        {at && <circle class="threshold-point" cx={x(at.coverage)} cy={y(at.accuracy)} r="4" />}
        <text x={W - PAD} y={H - 8} class="tick" text-anchor="end">
          coverage →
        </text>
        <text x={PAD + 4} y={PAD - 8} class="tick">
          accuracy ↑
        </text>
      </svg>
      <figcaption>
        {task}: accuracy vs share answered, {calibration.corrected} corrected products{at ? `; ● at the threshold (${percent(calibration.threshold)})` : ''}
      </figcaption>
    </figure>
  );
};

export const Charts = () => {
  const { api, tasks } = useConsole();
  const listing = useLoad(() => api.products({ limit: '1' }), []);
  const calibration = useLoad(() => api.calibration(), []);
  return (
    <div class="charts-page">
      <h1 tabIndex={-1}>Charts</h1>
      {(listing.error || calibration.error) && <p class="error">{listing.error ?? calibration.error}</p>}
      {tasks.tasks.map((task) => {
        const bins = listing.data?.facets.confidence[task.name] ?? Array.from({ length: 10 }, () => 0);
        const cal = calibration.data?.tasks[task.name];
        return (
          <section aria-labelledby={`chart-${task.name}`} class="chart-row">
            <h2 id={`chart-${task.name}`}>{task.name}</h2>
            <div class="charts">
              <Histogram task={task.name} bins={bins} />
              {cal && cal.corrected > 0 ? <Curve task={task.name} calibration={cal} /> : <p>No corrections of {task.name} yet: the accuracy curve is drawn from them.</p>}
            </div>
            {cal && cal.curve.length > 0 && (
              <details>
                <summary>Accuracy and coverage of {task.name}, in numbers</summary>
                <table class="data">
                  <thead>
                    <tr>
                      <th scope="col">Answer at confidence ≥</th>
                      <th scope="col">Answered</th>
                      <th scope="col">Right</th>
                    </tr>
                  </thead>
                  <tbody>
                    {cal.curve.map((p) => (
                      <tr>
                        <td>{percent(p.threshold)}</td>
                        <td>{percent(p.coverage)}</td>
                        <td>{percent(p.accuracy)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </details>
            )}
          </section>
        );
      })}
    </div>
  );
};
