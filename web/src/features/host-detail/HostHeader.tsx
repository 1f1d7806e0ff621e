import type { Host } from '../../api/generated/model';
import { RelativeTime } from '../../shared/components/RelativeTime';
import { StatusBadge } from '../../shared/components/StatusBadge';
import { useNow } from '../../shared/hooks/useNow';
import { PingButton } from './PingButton';

interface HostHeaderProps {
  host: Host;
}

/** Hostname, status and the facts the agent reported at hello. */
export function HostHeader({ host }: HostHeaderProps) {
  const now = useNow(1000);
  const facts: [string, string | undefined][] = [
    ['Agent ID', host.agent_id],
    ['OS / arch', [host.os, host.arch].filter(Boolean).join(' / ')],
    ['Kernel', host.kernel],
    ['Agent version', host.agent_version],
    ['Gateway', host.gateway],
    ['Capabilities', host.capabilities?.join(', ')],
  ];
  return (
    <header className="host-header" data-testid="host-header">
      <div className="host-header-main">
        <h1 className="page-title" data-testid="host-hostname">
          {host.hostname || host.agent_id}
        </h1>
        <StatusBadge status={host.status} />
        <PingButton agentId={host.agent_id} disabled={host.status !== 'online'} />
      </div>
      <dl className="facts">
        {facts.map(([k, v]) => (
          <div className="fact" key={k}>
            <dt>{k}</dt>
            <dd className="mono">{v || '–'}</dd>
          </div>
        ))}
        <div className="fact">
          <dt>Last seen</dt>
          <dd>
            <RelativeTime value={host.last_seen} now={now} />
          </dd>
        </div>
        <div className="fact">
          <dt>First seen</dt>
          <dd>
            <RelativeTime value={host.first_seen} now={now} />
          </dd>
        </div>
      </dl>
    </header>
  );
}
