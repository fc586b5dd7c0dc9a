/// Every metric family Mortar exports, with the help text Prometheus shows for it — one list, so the families,
/// their meaning and the README's table cannot drift apart. swift-metrics has no place for help text, so
/// ``Exposition`` adds it from here when it renders.
public enum MetricCatalog {
    public static let help: [String: String] = [
        // Bricks: every request a brick serves, by operation (the wire's opcode names).
        "mortar_brick_operations_total": "Requests a brick answered, by operation.",
        "mortar_brick_operation_errors_total": "Requests a brick answered with an error, by operation and errno name.",
        "mortar_brick_operation_duration_seconds": "Time a brick took to answer a request, by operation.",
        "mortar_brick_read_bytes_total": "Bytes a brick returned to read requests.",
        "mortar_brick_written_bytes_total": "Bytes a brick accepted in write requests.",
        "mortar_brick_requests_in_flight": "Requests a brick is working on now.",
        "mortar_brick_requests_queued": "Requests of a brick waiting for an I/O thread now.",
        "mortar_brick_connections": "Client connections a brick holds now.",
        "mortar_brick_open_files": "Files a brick holds open now, for all its connections.",
        "mortar_brick_refused_connections_total":
            "Connections a brick refused before serving them, by reason (tls-handshake, hello).",
        // The daemon: what it runs, and what it could not read from its bricks.
        "mortar_daemon_bricks": "Bricks this daemon runs, by state.",
        "mortar_daemon_brick_scrape_errors_total": "Scrapes of a brick's metrics that failed or timed out.",
        // Rebalances, from the catalog, on the daemon holding the manager role (which runs them).
        "mortar_rebalance_running": "1 while the volume's rebalance is in progress, else 0.",
        "mortar_rebalance_files": "Files the volume's rebalance has handled, by outcome (scanned, moved, skipped, failed).",
        "mortar_rebalance_moved_bytes": "Bytes of data the volume's rebalance has moved.",
        "mortar_rebalance_seconds": "Seconds the volume's rebalance has run, over all its runs.",
        // Replica members: the view each holds, and what each has recorded for the others to heal.
        "mortar_replica_member_epoch": "The epoch of the replica set view this member holds.",
        "mortar_replica_set_members": "Members of the replica set in this member's view, by state.",
        "mortar_heal_pending_files": "Files and directories this member has recorded for another member to heal.",
        "mortar_heal_pending_bytes": "Changed bytes this member has recorded for another member to heal.",
        "mortar_heal_copied_bytes_total": "Bytes this member has copied to healing members.",
        "mortar_replica_forward_duration_seconds": "Time from a primary forwarding a change to a member until it answered.",
        "mortar_replica_forward_failures_total": "Changes a primary forwarded to a member that failed there.",
        // Clients: what a mount or an application with client metrics asked of a volume, after the library's caches.
        "mortar_client_operations_total": "Requests a client sent to a volume, by operation.",
        "mortar_client_operation_errors_total": "Requests of a client that failed, by operation and errno name.",
        "mortar_client_operation_duration_seconds": "Time a client's request took, from the client's side, by operation.",
        "mortar_client_read_bytes_total": "Bytes a client read from a volume.",
        "mortar_client_written_bytes_total": "Bytes a client wrote to a volume.",
        "mortar_client_requests_in_flight": "Requests a client is waiting for now.",
    ]
}
