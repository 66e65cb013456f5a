using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace WebSockets.Internal;

/// <summary>
/// The library's instruments, created through <see cref="IMeterFactory"/> so that each host has its own meter.
/// Names follow OpenTelemetry conventions.
/// </summary>
internal sealed class SocketMetrics
{
    public const string MeterName = "WebSockets";

    private readonly UpDownCounter<long> _activeConnections;
    private readonly Counter<long> _disconnects;
    private readonly Counter<long> _droppedMessages;
    private readonly Counter<long> _discardedMessages;
    private readonly Counter<long> _rejectedConnections;
    private readonly Counter<long> _rejectedMessages;
    private readonly Counter<long> _handlerTimeouts;

    public SocketMetrics(IMeterFactory meterFactory)
    {
        Meter = meterFactory.Create(MeterName);
        _activeConnections = Meter.CreateUpDownCounter<long>(
            "websockets.server.active_connections", "{connection}", "Connections currently open, by namespace.");
        _disconnects = Meter.CreateCounter<long>(
            "websockets.server.disconnects", "{connection}", "Connections ended, by namespace and reason.");
        _droppedMessages = Meter.CreateCounter<long>(
            "websockets.server.dropped_messages", "{message}", "Messages discarded because a send queue was full, by namespace.");
        _discardedMessages = Meter.CreateCounter<long>(
            "websockets.server.discarded_messages", "{message}", "Messages still queued, never sent, when their connection ended without draining them (an abort, the drain timeout at shutdown, a slow-consumer close, a failed write), by namespace.");
        _rejectedConnections = Meter.CreateCounter<long>(
            "websockets.server.rejected_connections", "{connection}", "Upgrades refused by a connection limit, by namespace and reason.");
        _rejectedMessages = Meter.CreateCounter<long>(
            "websockets.server.rejected_messages", "{message}", "Client messages refused without being handled (rate_limited, too_many_requests, busy), by namespace and reason.");
        _handlerTimeouts = Meter.CreateCounter<long>(
            "websockets.server.handler_timeouts", "{message}", "Handlers canceled at the handler timeout, by namespace.");
    }

    public Meter Meter { get; }

    public void ConnectionOpened(string ns)
    {
        if (_activeConnections.Enabled)
        {
            _activeConnections.Add(1, new KeyValuePair<string, object?>("websockets.namespace", ns));
        }
    }

    public void ConnectionClosed(string ns, DisconnectReason reason)
    {
        // Tags of the -1 must match the +1 in ConnectionOpened.
        if (_activeConnections.Enabled)
        {
            _activeConnections.Add(-1, new KeyValuePair<string, object?>("websockets.namespace", ns));
        }

        if (_disconnects.Enabled)
        {
            var tags = new TagList
            {
                { "websockets.namespace", ns },
                { "websockets.disconnect.reason", ReasonTag(reason) },
            };
            _disconnects.Add(1, tags);
        }
    }

    public void MessagesDiscarded(string ns, int count)
    {
        if (_discardedMessages.Enabled)
        {
            _discardedMessages.Add(count, new KeyValuePair<string, object?>("websockets.namespace", ns));
        }
    }

    public void MessageDropped(string ns)
    {
        if (_droppedMessages.Enabled)
        {
            _droppedMessages.Add(1, new KeyValuePair<string, object?>("websockets.namespace", ns));
        }
    }

    /// <summary>An upgrade refused by a connection limit; <paramref name="reason"/> is a <see cref="RejectionReason"/> value.</summary>
    public void ConnectionRejected(string ns, string reason)
    {
        if (_rejectedConnections.Enabled)
        {
            _rejectedConnections.Add(1, new TagList { { "websockets.namespace", ns }, { RejectionReason.TagName, reason } });
        }
    }

    /// <summary>A client message refused unhandled; <paramref name="reason"/> is a <see cref="RejectionReason"/> value.</summary>
    public void MessageRejected(string ns, string reason)
    {
        if (_rejectedMessages.Enabled)
        {
            _rejectedMessages.Add(1, new TagList { { "websockets.namespace", ns }, { RejectionReason.TagName, reason } });
        }
    }

    public void HandlerTimedOut(string ns)
    {
        if (_handlerTimeouts.Enabled)
        {
            _handlerTimeouts.Add(1, new KeyValuePair<string, object?>("websockets.namespace", ns));
        }
    }

    internal static string ReasonTag(DisconnectReason reason) => reason switch
    {
        DisconnectReason.ClientClosed => "client_closed",
        DisconnectReason.ConnectionLost => "connection_lost",
        DisconnectReason.ServerClosed => "server_closed",
        DisconnectReason.ServerShutdown => "server_shutdown",
        DisconnectReason.SlowConsumer => "slow_consumer",
        DisconnectReason.MessageTooBig => "message_too_big",
        DisconnectReason.IdleTimeout => "idle_timeout",
        DisconnectReason.HookFailed => "hook_failed",
        DisconnectReason.RateLimited => "rate_limited",
        DisconnectReason.ProtocolError => "protocol_error",
        _ => "unknown",
    };
}

/// <summary>The values of the <c>websockets.rejection.reason</c> tag.</summary>
internal static class RejectionReason
{
    public const string TagName = "websockets.rejection.reason";
    public const string MaxConnections = "max_connections";
    public const string MaxConnectionsPerUser = "max_connections_per_user";
    public const string MaxConnectionsPerIpAddress = "max_connections_per_ip";
    public const string RateLimited = "rate_limited";
    public const string TooManyRequests = "too_many_requests";
    public const string Busy = "busy";
    public const string Origin = "origin";
    public const string HandshakeFailed = "handshake_failed";
    public const string TooManyRooms = "too_many_rooms";
    public const string Forbidden = "forbidden";
}
