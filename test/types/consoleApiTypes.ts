/**
 * Compile-time only (`npm run typecheck`): what the API's handler builds must be readable as what
 * the console expects (console/src/api/types.ts), so an API change the console would misread
 * fails the typecheck instead of a page.
 */
import type { CalibrationReport, ProductEvidence, ProductListingResponse, ReviewPage, TaskList } from '../../functions/api/catalogViews.js';
import type { TaxonomyProductView } from '../../functions/shared/taxonomy/productTaxonomy.js';
import type { RejectionItem } from '../../functions/shared/products/items.js';
import type { Page } from '../../functions/shared/products/productStore.js';
import type { DeadLetter } from '../../local/dispatcher/deadLetterStore.js';
import type * as Console from '../../console/src/api/types.js';

/** Fails to compile unless every `Server` is a `Client`. */
const readsAs = <Server extends Client, Client>(): void => undefined;

readsAs<ProductListingResponse, Console.ProductListing>();
readsAs<TaxonomyProductView, Console.Product>();
readsAs<ProductEvidence, Console.ProductEvidence>();
readsAs<TaskList, Console.TaskList>();
readsAs<ReviewPage, Console.ReviewPage>();
readsAs<CalibrationReport, Console.Calibration>();
readsAs<Page<Pick<RejectionItem, 'key' | 'bucket' | 'code' | 'reason' | 'eventTime' | 'recordedAt'>>, Console.RejectionPage>();
readsAs<{ items: DeadLetter[]; total: number }, Console.DeadLetterList>();
