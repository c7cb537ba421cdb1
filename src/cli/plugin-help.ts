// Help texts of the cluster commands, apart from their code (which loads the Kubernetes client).

export const AGENT_NAMESPACE = 'unit-operator-system';

export const PLUGIN_HELP = `kubectl unit — systemctl for ServiceUnits in a cluster (also: unitctl COMMAND --cluster)

Usage: kubectl unit COMMAND [NAME] [-n NAMESPACE] [--kubeconfig FILE]

  list [-A]                        one row per unit and node: ACTIVE, SUB, RESULT, RESTARTS, MAIN PID
  status NAME [-o json]            the systemctl status view, one block per node
  restart|reload|reset-failed NAME [--wait [--timeout 60s]]
                                   set the annotation the agents act on once; --wait until every
                                   node has acted
  logs NAME [--node N] [--tail N] [-f] [--since 10min]
                                   the unit's output on a node (kubectl exec into the agent pod
                                   there: needs pods/exec in ${AGENT_NAMESPACE}, e.g. the Role
                                   unit-operator-log-reader)
  rollout status|pause|resume NAME [--timeout 5m]
                                   wait for a changed unit to reach every node (exit 1 when the
                                   rollout halted: the node and its Result are named); pause or
                                   resume granting nodes the new revision
  security NAME [-o json]          systemd-analyze security of the spec: the exposure table, the
                                   overall level, and what the nodes do not apply
  convert FILE.service...          unit files to ServiceUnit YAML (as unitctl convert)

Exit status: 0 ok; status: 3 when not Ready; 4 when the ServiceUnit does not exist.
`;

export const OBSERVABILITY_HELP = `  --metrics-bind-address ADDR  serve /metrics, /healthz and /readyz on ADDR (":8080",
                               "127.0.0.1:0" for a free port; off by default)
  --log-format json|pretty     JSON lines (default when stderr is not a terminal) or
                               human-readable lines`;
