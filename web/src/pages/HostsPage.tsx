import { HostsEmptyState } from '../features/hosts/HostsEmptyState';
import { HostsTable } from '../features/hosts/HostsTable';
import { useHosts } from '../features/hosts/useHosts';
import { ErrorState } from '../shared/components/ErrorState';
import { LoadingState } from '../shared/components/LoadingState';
import { usePageTitle } from '../shared/hooks/usePageTitle';

export function HostsPage() {
  usePageTitle('Hosts');
  const { data, error, loading, refresh } = useHosts();
  const online = data?.filter((h) => h.status === 'online').length ?? 0;
  return (
    <main className="page" id="main">
      <header className="page-header">
        <h1 className="page-title">Hosts</h1>
        {data && data.length > 0 && (
          <p className="page-subtitle" aria-live="polite">
            {online} of {data.length} online
          </p>
        )}
      </header>
      {error && (
        <ErrorState
          title={data ? 'Could not refresh the host list' : 'Could not load the host list'}
          error={error}
          onRetry={refresh}
        />
      )}
      {loading && !data && !error && <LoadingState label="Loading hosts…" />}
      {data && data.length === 0 && <HostsEmptyState />}
      {data && data.length > 0 && <HostsTable hosts={data} />}
    </main>
  );
}
