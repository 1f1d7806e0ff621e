import { useEffect } from 'react';

/** Sets document.title to "<title> · ServiceRadar". */
export function usePageTitle(title: string): void {
  useEffect(() => {
    document.title = title ? `${title} · ServiceRadar` : 'ServiceRadar';
  }, [title]);
}
