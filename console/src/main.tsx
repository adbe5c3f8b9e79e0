/**
 * The merchandiser console: reads where its API is (console-config.json), signs in when the
 * deployment asks for it, loads the tasks once and shows the page the URL fragment names.
 */
import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { Api } from './api/client.js';
import { accessToken, ensureSignedIn, signOut } from './api/auth.js';
import { loadConfig, type ConsoleConfig } from './api/config.js';
import { Context, type ConsoleContext } from './context.js';
import { errorMessage } from './format.js';
import { Charts } from './pages/Charts.js';
import { Grid } from './pages/Grid.js';
import { Operations } from './pages/Operations.js';
import { Product } from './pages/Product.js';
import { Review } from './pages/Review.js';
import { hrefs, useRoute, type Route } from './router.js';
import './styles.css';

const NAV: { page: Route['page']; label: string; href: string }[] = [
  { page: 'grid', label: 'Catalog', href: hrefs.grid() },
  { page: 'review', label: 'Review queue', href: hrefs.review() },
  { page: 'operations', label: 'Operations', href: hrefs.operations() },
  { page: 'charts', label: 'Charts', href: hrefs.charts() },
];

const PageFor = ({ route }: { route: Route }) => {
  switch (route.page) {
    case 'grid':
      return (
        <>
          <h1 tabIndex={-1}>Catalog</h1>
          <Grid query={route.query} />
        </>
      );
    case 'product':
      return <Product vendor={route.params.vendor!} productId={route.params.productId!} />;
    case 'review':
      return <Review query={route.query} />;
    case 'operations':
      return <Operations />;
    case 'charts':
      return <Charts />;
    default:
      return (
        <>
          <h1 tabIndex={-1}>Not found</h1>
          <p>
            No such page. <a href={hrefs.grid()}>Back to the catalog</a>
          </p>
        </>
      );
  }
};

const Shell = ({ context, config }: { context: ConsoleContext; config: ConsoleConfig }) => {
  const route = useRoute();
  const main = useRef<HTMLElement>(null);
  const first = useRef(true);
  const pageKey = `${route.page}/${route.params.vendor ?? ''}/${route.params.productId ?? ''}`;
  // After a change of page, keyboard and screen reader users start at its heading.
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    main.current?.querySelector<HTMLElement>('h1')?.focus();
  }, [pageKey]);
  return (
    <Context.Provider value={context}>
      <a class="skip" href="#main" onClick={(e) => (e.preventDefault(), main.current?.focus())}>
        Skip to content
      </a>
      <header class="top">
        <span class="brand">Weft</span>
        <nav aria-label="Console">
          <ul>
            {NAV.map((n) => (
              <li>
                <a href={n.href} aria-current={route.page === n.page ? 'page' : undefined}>
                  {n.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        {config.auth && (
          <button type="button" class="sign-out" onClick={() => signOut(config.auth!)}>
            Sign out
          </button>
        )}
      </header>
      <main id="main" ref={main} tabIndex={-1}>
        <PageFor key={pageKey} route={route} />
      </main>
    </Context.Provider>
  );
};

const App = () => {
  const [state, setState] = useState<{ context?: ConsoleContext; config?: ConsoleConfig; error?: string }>({});
  useEffect(() => {
    void (async () => {
      try {
        const config = await loadConfig();
        if (config.auth) await ensureSignedIn(config.auth);
        const api = new Api(config, accessToken);
        setState({ context: { api, tasks: await api.tasks() }, config });
      } catch (error) {
        setState({ error: errorMessage(error) });
      }
    })();
  }, []);
  if (state.error)
    return (
      <main>
        <h1>Weft console</h1>
        <p role="alert" class="error">
          The console could not start: {state.error}
        </p>
      </main>
    );
  if (!state.context || !state.config)
    return (
      <main aria-busy="true">
        <h1>Weft console</h1>
        <p>Loading…</p>
      </main>
    );
  return <Shell context={state.context} config={state.config} />;
};

render(<App />, document.getElementById('app')!);
