// The SRQL reference shown in the help panel: the grammar, by example, and queries to try.

export interface SyntaxRule {
  syntax: string;
  meaning: string;
}

export const SRQL_RULES: readonly SyntaxRule[] = [
  { syntax: 'field:value', meaning: 'a field equals a value (host:web-01, type:falco_alert)' },
  { syntax: '"quoted phrase"', meaning: 'the words in this order, anywhere in the message' },
  { syntax: 'word', meaning: 'full text; IPs, paths, CVE ids and hashes match as whole tokens' },
  { syntax: 'AND  OR  NOT  ( )', meaning: 'combine terms; terms side by side mean AND' },
  { syntax: 'pid:>100  severity:>=high', meaning: 'comparisons: > >= < <=' },
  { syntax: 'user:adm*  *substring*', meaning: 'wildcards' },
  { syntax: 'severity:(critical,high)', meaning: 'any of a list' },
  { syntax: 'src_ip:10.0.0.0/8', meaning: 'IP address in a CIDR block' },
  { syntax: 'k8s.namespace:production', meaning: 'dotted paths look inside the event\u2019s fields' },
  { syntax: 'time:last_15m  last_24h  last_7d', meaning: 'relative time ranges' },
  { syntax: 'time:[start,end]', meaning: 'an absolute time range (RFC 3339)' },
  { syntax: 'in:events  in:logs  in:alerts', meaning: 'which events to search' },
  { syntax: 'sort:time:desc  sort:relevance', meaning: 'order of the results' },
  { syntax: 'limit:N', meaning: 'rows per page' },
  { syntax: 'stats:"count() as n by host"', meaning: 'aggregate instead of listing events' },
  { syntax: '| stats count() by field | sort count desc | head 10', meaning: 'pipes: aggregate, order, keep the top' },
  { syntax: 'SIMILAR_TO("text")', meaning: 'semantic search (not available yet)' },
];

export const SRQL_FIELDS =
  'time (or timestamp), id, host, agent_id (agent), source_type (type), severity, severity_text, program, pid, ' +
  'user_name (user), src_ip, outcome, action, rule, message (msg), tags, and any dotted key of fields ' +
  '(k8s.namespace, proc.cmdline).';

export const SRQL_EXAMPLES: readonly string[] = [
  'type:falco_alert AND severity:>=high',
  'type:falco_alert AND shell',
  'type:falco_alert AND k8s.namespace:production AND "authentication failure"',
  'host:proxmox-node-01 AND severity:high',
  'in:logs severity_text:(error,ERROR,err,ERR) time:last_24h sort:timestamp:desc limit:100',
  'src_ip:10.0.0.0/8 AND NOT user:root',
  '"Failed password" | stats count() by src_ip | sort count desc | head 10',
  'type:falco_alert | stats count() by rule | sort count desc',
  'CVE-2024-3094',
];
