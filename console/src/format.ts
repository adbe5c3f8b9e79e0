/** How numbers and states read on the pages. */
export const percent = (x: number): string => `${Math.round(x * 100)}%`;

export const confidenceLevel = (confidence: number, corrected: boolean, value: string | null): 'corrected' | 'abstained' | 'high' | 'medium' | 'low' => {
  if (corrected) return 'corrected';
  if (value === null) return 'abstained';
  return confidence >= 0.8 ? 'high' : confidence >= 0.5 ? 'medium' : 'low';
};

export const sourceName = (id: string): string => (id.startsWith('image:') ? `image ${id.slice('image:'.length)}` : id);

export const errorMessage = (error: unknown): string => (error instanceof Error ? error.message : String(error));
