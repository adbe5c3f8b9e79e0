import type { SummaryAttribute } from '../api/types.js';
import { confidenceLevel, percent } from '../format.js';

/** One attribute of a product: its value and confidence, colored by confidence (and said in words, not by color alone). */
export const Chip = ({ task, attribute }: { task: string; attribute: SummaryAttribute }) => {
  const level = confidenceLevel(attribute.confidence, attribute.corrected, attribute.value);
  const value = attribute.value ?? 'abstained';
  const detail = attribute.corrected ? 'set by a person' : `${percent(attribute.confidence)} confidence`;
  return (
    <span class={`chip chip-${level}`} title={`${task}: ${value}, ${detail}`}>
      <span class="chip-task">{task}</span> {value} <span class="chip-score">{attribute.corrected ? '✔ person' : percent(attribute.confidence)}</span>
    </span>
  );
};

export const StatusBadge = ({ status }: { status: string }) => <span class={`badge badge-${status}`}>{status}</span>;
