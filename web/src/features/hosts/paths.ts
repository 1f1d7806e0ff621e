/** The client route of one host's page. */
export function hostPath(agentId: string): string {
  return `/hosts/${encodeURIComponent(agentId)}`;
}
