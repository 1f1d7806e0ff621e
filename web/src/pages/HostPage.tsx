import { useParams, useSearchParams } from 'react-router-dom';
import { ApiError } from '../api/http';
import { CpuChart } from '../features/host-detail/CpuChart';
import { DiskUsage } from '../features/host-detail/DiskUsage';
import { HostHeader } from '../features/host-detail/HostHeader';
import { LoadChart } from '../features/host-detail/LoadChart';
import { MemoryChart } from '../features/host-detail/MemoryChart';
import { NetworkChart } from '../features/host-detail/NetworkChart';
import { RangePicker } from '../features/host-detail/RangePicker';
import { rangeById } from '../features/host-detail/ranges';
import { useHost } from '../features/host-detail/useHost';
import { ErrorState } from '../shared/components/ErrorState';
import { LoadingState } from '../shared/components/LoadingState';
import { usePageTitle } from '../shared/hooks/usePageTitle';

export function HostPage() {
  const { agentId = '' } = useParams();
  const [params, setParams] = useSearchParams();
  const range = rangeById(params.get('range'));
  const { data: host, error, loading, refresh } = useHost(agentId);
  usePageTitle(host?.hostname || agentId);

  const notFound = error instanceof ApiError && error.status === 404;
  return (
    <main className="page" id="main">
      {host && <HostHeader host={host} />}
      {!host && loading && <LoadingState label="Loading host…" />}
      {notFound && (
        <ErrorState title="Unknown host" error={new Error(`No agent with ID "${agentId}" has connected.`)} />
      )}
      {error && !notFound && (
        <ErrorState title={host ? 'Could not refresh this host' : 'Could not load this host'} error={error} onRetry={refresh} />
      )}
      {host && !notFound && (
        <>
          <div className="toolbar">
            <h2 className="section-title">Metrics</h2>
            <RangePicker
              value={range}
              onChange={(r) =>
                setParams(
                  (p) => {
                    p.set('range', r.id);
                    return p;
                  },
                  { replace: true },
                )
              }
            />
          </div>
          <div className="grid">
            <CpuChart agentId={agentId} range={range} />
            <MemoryChart agentId={agentId} range={range} />
            <NetworkChart agentId={agentId} range={range} direction="rx" />
            <NetworkChart agentId={agentId} range={range} direction="tx" />
            <LoadChart agentId={agentId} range={range} />
            <DiskUsage agentId={agentId} range={range} />
          </div>
        </>
      )}
    </main>
  );
}
