import { Link, useNavigate } from 'react-router-dom';
import type { Host } from '../../api/generated/model';
import { RelativeTime } from '../../shared/components/RelativeTime';
import { StatusBadge } from '../../shared/components/StatusBadge';
import { useNow } from '../../shared/hooks/useNow';
import { hostPath } from './paths';

interface HostsTableProps {
  hosts: readonly Host[];
}

function platform(h: Host): string {
  return [h.os, h.arch].filter(Boolean).join(' / ') || '–';
}

/** The agents table; a row opens its host (the hostname is the link, the whole row is clickable). */
export function HostsTable({ hosts }: HostsTableProps) {
  const now = useNow(1000);
  const navigate = useNavigate();
  return (
    <div className="table-wrap">
      <table className="table" data-testid="hosts-table">
        <caption className="visually-hidden">Hosts running a ServiceRadar agent</caption>
        <thead>
          <tr>
            <th scope="col">Hostname</th>
            <th scope="col">Agent ID</th>
            <th scope="col">Status</th>
            <th scope="col">Last seen</th>
            <th scope="col">Version</th>
            <th scope="col">OS / arch</th>
          </tr>
        </thead>
        <tbody>
          {hosts.map((h) => (
            <tr
              key={h.agent_id}
              className="row-link"
              data-testid="host-row"
              data-agent-id={h.agent_id}
              data-hostname={h.hostname}
              data-status={h.status}
              onClick={(e) => {
                if ((e.target as HTMLElement).closest('a')) return;
                navigate(hostPath(h.agent_id));
              }}
            >
              <th scope="row">
                <Link to={hostPath(h.agent_id)} data-testid="host-link">
                  {h.hostname || <span className="muted">(no hello yet)</span>}
                </Link>
              </th>
              <td className="mono">{h.agent_id}</td>
              <td>
                <StatusBadge status={h.status} />
              </td>
              <td>
                <RelativeTime value={h.last_seen} now={now} />
              </td>
              <td className="mono">{h.agent_version || '–'}</td>
              <td>{platform(h)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
