/** What every page needs: the API client and the deployment's tasks (labels, thresholds, views). */
import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Api } from './api/client.js';
import type { TaskList } from './api/types.js';

export interface ConsoleContext {
  api: Api;
  tasks: TaskList;
}

export const Context = createContext<ConsoleContext | undefined>(undefined);

export const useConsole = (): ConsoleContext => {
  const value = useContext(Context);
  if (!value) throw new Error('useConsole outside the console');
  return value;
};
