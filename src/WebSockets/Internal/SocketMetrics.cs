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
    public const string NamespaceTag = "websockets.namespace";
    public const string EventNameTag = "websockets.event.name";
    public const string ErrorTypeTag = "error.type";

    private readonly UpDownCounter<long> _activeConnections;
    private readonly Counter<long> _disconnects;
    private readonly Counter<long> _droppedMessages;
    private readonly Counter<long> _discardedMessages;
    private readonly Counter<long> _rejectedConnections;
    private readonly Counter<long> _rejectedMessages;
    private readonly Counter<long> _handlerTimeouts;
    private readonly Counter<long> _connects;
    private readonly Counter<long> _messagesReceived;
    private readonly Counter<long> _bytesReceived;
    private readonly Counter<long> _messagesSent;
    private readonly Counter<long> _bytesSent;
    private readonly Histogram<double> _handlerDuration;
    private readonly Counter<long> _requestTimeouts;
    private readonly Histogram<double> _backplaneLag;

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
            "websockets.server.rejected_connections", "{connection}", "Upgrades refused before they were accepted (a connection limit, the origin check, a failed handshake), by namespace and reason.");
        _rejectedMessages = Meter.CreateCounter<long>(
            "websockets.server.rejected_messages", "{message}", "Client messages refused without being handled (rate_limited, too_many_requests, busy, forbidden, too_many_rooms), by namespace and reason.");
        _handlerTimeouts = Meter.CreateCounter<long>(
            "websockets.server.handler_timeouts", "{message}", "Handlers canceled at the handler timeout, by namespace.");
        _connects = Meter.CreateCounter<long>(
            "websockets.server.connects", "{connection}", "Connections accepted and registered, by namespace.");
        _messagesReceived = Meter.CreateCounter<long>(
            "websockets.server.messages_received", "{message}", "Complete messages received from clients, by namespace.");
        _bytesReceived = Meter.CreateCounter<long>(
            "websockets.server.bytes_received", "By", "Payload bytes of the messages received from clients, by namespace.");
        _messagesSent = Meter.CreateCounter<long>(
            "websockets.server.messages_sent", "{message}", "Messages written to client sockets, by namespace.");
        _bytesSent = Meter.CreateCounter<long>(
            "websockets.server.bytes_sent", "By", "Payload bytes of the messages written to client sockets, by namespace.");
        _handlerDuration = Meter.CreateHistogram<double>(
            "websockets.server.handler.duration", "s", "How long handlers ran, by namespace, event (absent for raw handlers and binary frames) and error type.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] });
        _requestTimeouts = Meter.CreateCounter<long>(
            "websockets.server.request_timeouts", "{request}", "Server requests to clients (RequestAsync) that got no reply in time, by namespace.");
        _backplaneLag = Meter.CreateHistogram<double>(
            "websockets.backplane.lag", "s", "Time from a server publishing a cluster message to this server delivering it (wall clocks of two servers: skew shows).",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] });
    }

    public Meter Meter { get; }

    /// <summary>Whether anyone listens to the handler duration: only then is a handler timed.</summary>
    public bool HandlerDurationEnabled => _handlerDuration.Enabled;

    /// <summary>Whether anyone listens to the backplane lag: only then is a delivered message's timestamp compared.</summary>
    public bool BackplaneLagEnabled => _backplaneLag.Enabled;

    /// <summary>
    /// Reports the messages waiting in send queues, per namespace, when the meter is collected (never per message).
    /// </summary>
    public void ObserveQueuedMessages(Func<IEnumerable<Measurement<long>>> observe)
        => Meter.CreateObservableUpDownCounter(
            "websockets.server.queued_messages", observe, "{message}", "Messages waiting in the send queues of the connections, by namespace; read when collected.");

    public void ConnectionOpened(string ns)
    {
        if (_connects.Enabled)
        {
            _connects.Add(1, new KeyValuePair<string, object?>(NamespaceTag, ns));
        }

        if (_activeConnections.Enabled)
        {
            _activeConnections.Add(1, new KeyValuePair<string, object?>(NamespaceTag, ns));
        }
    }

    public void ConnectionClosed(string ns, DisconnectReason reason)
    {
        // Tags of the -1 must match the +1 in ConnectionOpened.
        if (_activeConnections.Enabled)
        {
            _activeConnections.Add(-1, new KeyValuePair<string, object?>(NamespaceTag, ns));
        }

        if (_disconnects.Enabled)
        {
            var tags = new TagList
            {
                { NamespaceTag, ns },
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
            _droppedMessages.Add(1, new KeyValuePair<string, object?>(NamespaceTag, ns));
        }
    }

    /// <summary>An upgrade refused by a connection limit; <paramref name="reason"/> is a <see cref="RejectionReason"/> value.</summary>
    public void ConnectionRejected(string ns, string reason)
    {
        if (_rejectedConnections.Enabled)
        {
            _rejectedConnections.Add(1, new TagList { { NamespaceTag, ns }, { RejectionReason.TagName, reason } });
        }
    }

    /// <summary>A client message refused unhandled; <paramref name="reason"/> is a <see cref="RejectionReason"/> value.</summary>
    public void MessageRejected(string ns, string reason)
    {
        if (_rejectedMessages.Enabled)
        {
            _rejectedMessages.Add(1, new TagList { { NamespaceTag, ns }, { RejectionReason.TagName, reason } });
        }
    }

    public void HandlerTimedOut(string ns)
    {
        if (_handlerTimeouts.Enabled)
        {
            _handlerTimeouts.Add(1, new KeyValuePair<string, object?>(NamespaceTag, ns));
        }
    }

    /// <summary>One complete message from a client (read pump).</summary>
    public void MessageReceived(string ns, int bytes)
    {
        if (_messagesReceived.Enabled)
        {
            _messagesReceived.Add(1, new KeyValuePair<string, object?>(NamespaceTag, ns));
        }

        if (_bytesReceived.Enabled)
        {
            _bytesReceived.Add(bytes, new KeyValuePair<string, object?>(NamespaceTag, ns));
        }
    }

    /// <summary>One message written to a client socket (write pump or inline send).</summary>
    public void MessageSent(string ns, int bytes)
    {
        if (_messagesSent.Enabled)
        {
            _messagesSent.Add(1, new KeyValuePair<string, object?>(NamespaceTag, ns));
        }

        if (_bytesSent.Enabled)
        {
            _bytesSent.Add(bytes, new KeyValuePair<string, object?>(NamespaceTag, ns));
        }
    }

    /// <summary>
    /// A handler's run, from a timestamp taken only when <see cref="HandlerDurationEnabled"/> was true (0 otherwise: not
    /// recorded). <paramref name="eventName"/> is null for raw handlers and binary frames; <paramref name="errorType"/> is
    /// null when the handler succeeded.
    /// </summary>
    public void HandlerCompleted(string ns, string? eventName, long startTimestamp, string? errorType)
    {
        if (startTimestamp == 0 || !_handlerDuration.Enabled)
        {
            return;
        }

        var tags = new TagList { { NamespaceTag, ns } };
        if (eventName is not null)
        {
            tags.Add(EventNameTag, eventName);
        }

        if (errorType is not null)
        {
            tags.Add(ErrorTypeTag, errorType);
        }

        _handlerDuration.Record(Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds, tags);
    }

    /// <summary>A timestamp to pass to <see cref="HandlerCompleted"/>: 0, and no clock read, when nobody listens.</summary>
    public long StartHandler() => _handlerDuration.Enabled ? Stopwatch.GetTimestamp() : 0;

    public void RequestTimedOut(string ns)
    {
        if (_requestTimeouts.Enabled)
        {
            _requestTimeouts.Add(1, new KeyValuePair<string, object?>(NamespaceTag, ns));
        }
    }

    public void BackplaneLag(TimeSpan lag)
    {
        if (_backplaneLag.Enabled)
        {
            _backplaneLag.Record(Math.Max(0, lag.TotalSeconds));
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
        DisconnectReason.AuthenticationExpired => "authentication_expired",
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
