/** What to do when no agent has connected yet. */
export function HostsEmptyState() {
  return (
    <div className="state state-empty" data-testid="hosts-empty">
      <h2 className="state-title">No agents yet</h2>
      <p className="state-text">
        A host appears here a few seconds after its ServiceRadar agent says hello to a gateway. To add one:
      </p>
      <ol className="state-steps">
        <li>
          Install <code>serviceradar-agent</code> on the host.
        </li>
        <li>
          Enroll it: the agent sends a certificate request with a one-time token to{' '}
          <code>POST /api/v1/enroll</code> and keeps the certificate it gets back; its common name becomes the agent ID.
        </li>
        <li>Point it at your gateway's address and start it (for instance as a systemd service).</li>
      </ol>
      <p className="state-text muted">This list refreshes every 5 seconds.</p>
    </div>
  );
}
