/**
 * One product image as the models saw it: the original with the rectangles of its views drawn on
 * it (the center crop, the detector's garment box), and each derived view beside it.
 */
import type { ImageStatus, ImageViewInfo, ObjectLink } from '../api/types.js';
import { percent } from '../format.js';

interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
  label: string;
  kind: 'center' | 'garment';
}

/** Rectangles in image fractions: the center view's crop and, when detected, the garment box. */
export const viewRectangles = (views: readonly ImageViewInfo[], image: Pick<ImageStatus, 'box'>): Rect[] => {
  const rects: Rect[] = [];
  for (const view of views) {
    if (view.kind === 'center' && view.cropFraction !== undefined) {
      const f = view.cropFraction;
      rects.push({ x: (1 - f) / 2, y: (1 - f) / 2, w: f, h: f, label: `${view.name} crop`, kind: 'center' });
    }
    if (view.kind === 'garment' && image.box) {
      rects.push({ ...image.box, label: `${view.name} box, score ${percent(image.box.score)}`, kind: 'garment' });
    }
  }
  return rects;
};

export const ImageEvidence = ({ original, views, status, info }: { original: ObjectLink; views: Record<string, ObjectLink>; status: ImageStatus | undefined; info: readonly ImageViewInfo[] }) => {
  const name = original.key.split('/').at(-1) ?? original.key;
  const rects = viewRectangles(info, status ?? {});
  return (
    <figure class="image-evidence">
      <div class="image-row">
        <div class="original">
          <div class="overlay-frame">
            <img src={original.url} alt={`${name}, as uploaded${rects.length > 0 ? `, with ${rects.map((r) => r.label).join(' and ')} drawn on it` : ''}`} />
            {rects.length > 0 && (
              <svg class="overlay" viewBox="0 0 1 1" preserveAspectRatio="none" aria-hidden="true">
                {rects.map((r) => (
                  <rect class={`rect-${r.kind}`} x={r.x} y={r.y} width={r.w} height={r.h} vector-effect="non-scaling-stroke" />
                ))}
              </svg>
            )}
          </div>
          <span class="caption">original</span>
          {rects.length > 0 && (
            <ul class="legend">
              {rects.map((r) => (
                <li class={`legend-${r.kind}`}>{r.label}</li>
              ))}
            </ul>
          )}
        </div>
        {Object.entries(views).map(([view, link]) => (
          <div class="view">
            <img src={link.url} alt={`${name}, ${view} view`} width="224" height="224" />
            <span class="caption">{view} view</span>
          </div>
        ))}
      </div>
      <figcaption>
        {name}
        {status?.status === 'error' && (
          <span class="error">
            {' '}
            — refused: {status.errorCode} {status.error}
          </span>
        )}
        {status?.status === 'pending' && <span> — pending{status.lastError ? ` (last attempt failed: ${status.lastErrorCode} ${status.lastError})` : ''}</span>}
      </figcaption>
    </figure>
  );
};
