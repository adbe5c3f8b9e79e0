/**
 * What the model clients hand to the pipeline: for each input row, each task's probabilities in
 * the order of that task's labels in the model manifest. Task names and labels are never
 * spelled out in TypeScript; they come from the manifest.
 */
export type TaskProbabilities = Record<string /* task */, number[] /* probabilities, manifest label order */>;
