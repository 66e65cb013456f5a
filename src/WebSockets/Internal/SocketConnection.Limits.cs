using System.Net.WebSockets;
using System.Threading.RateLimiting;

namespace WebSockets.Internal;

/// <summary>The per-connection limits: the connection-limit slot, the message rate limit and the handler timeout.</summary>
internal sealed partial class SocketConnection
{
    /// <summary>The connection-limit slot this connection holds, if any limit is set; released once the socket is done.</summary>
    internal ConnectionLimiter.ConnectionSlot? LimitSlot { get; init; }

    /// <summary>How many requests of this connection may be running or waiting for their handler at once.</summary>
    internal int MaxPendingRequests => _endpoint.MaxPendingRequests;

    internal TimeSpan HandlerTimeout => _endpoint.HandlerTimeout;

    internal SocketMetrics Metrics => _registry.Metrics;

    /// <summary>
    /// The most handlers of one connection that may run on after their timeout (they ignored their token). One more
    /// closes the connection, so a client can't pile up work and scopes that outlive it.
    /// </summary>
    internal const int MaxAbandonedHandlers = MaxQueuedInvocations;

    private int _abandonedHandlers;

    /// <summary>Counts a handler that outlived its timeout; closes the connection when there are too many.</summary>
    internal void OnHandlerAbandoned()
    {
        if (Interlocked.Increment(ref _abandonedHandlers) > MaxAbandonedHandlers)
        {
            LimitsLog.TooManyAbandonedHandlers(_logger, Id, MaxAbandonedHandlers);
            RequestClose(WebSocketCloseStatus.InternalServerError, "Too many handlers did not stop after their timeout.", DisconnectReason.ServerClosed, drain: true);
        }
    }

    /// <summary>An abandoned handler has ended at last.</summary>
    internal void OnAbandonedHandlerEnded() => Interlocked.Decrement(ref _abandonedHandlers);

    /// <summary>Handlers of this connection still running after their timeout.</summary>
    internal int AbandonedHandlers => Volatile.Read(ref _abandonedHandlers);

    /// <summary>
    /// Takes a token from the connection's message rate limit (read pump only). True when the message may be handled:
    /// always, without any work, when the endpoint has no limit. Otherwise the refusal is logged and counted, and under
    /// <see cref="MessageRateLimitMode.Close"/> the connection is closed with 1008; the caller then tells the client under
    /// <see cref="MessageRateLimitMode.Reject"/>.
    /// </summary>
    internal bool TryAcquireMessagePermit()
    {
        if (_rateLimiter is not { } limiter)
        {
            return true;
        }

        // Refill for the time elapsed since the last message, then take a token. A granted lease is a shared instance.
        limiter.TryReplenish();
        using var lease = limiter.AttemptAcquire();
        if (lease.IsAcquired)
        {
            return true;
        }

        _registry.Metrics.MessageRejected(Namespace, RejectionReason.RateLimited);
        if (_endpoint.MessageRateLimitMode == MessageRateLimitMode.Close)
        {
            LimitsLog.RateLimitClose(_logger, Id);
            RequestClose(WebSocketCloseStatus.PolicyViolation, "Message rate limit exceeded.", DisconnectReason.RateLimited, drain: true);
        }
        else
        {
            LimitsLog.MessageRateLimited(_logger, Id);
        }

        return false;
    }

    /// <summary>Whether a message refused by the rate limit should be answered (<see cref="MessageRateLimitMode.Reject"/>).</summary>
    internal bool AnswersRateLimitedMessages => _endpoint.MessageRateLimitMode == MessageRateLimitMode.Reject;

    /// <summary>Starts the handler timeout of one invocation; inactive when the endpoint has none.</summary>
    internal HandlerDeadline StartHandlerDeadline(CancellationToken connectionToken)
        => HandlerDeadline.Start(_endpoint.HandlerTimeout, _timeProvider, connectionToken);

    private static TokenBucketRateLimiter? CreateRateLimiter(EndpointRuntime endpoint)
        => endpoint.MessageRateLimit is { } options ? new TokenBucketRateLimiter(options) : null;
}

/// <summary>
/// The handler timeout of one invocation: a token of its own, canceled at the timeout or when the connection ends.
/// Inactive (default) when the endpoint has no timeout; then handlers get the connection's token and nothing is allocated.
/// </summary>
internal readonly struct HandlerDeadline : IDisposable
{
    private readonly CancellationTokenSource? _timeout;
    private readonly CancellationTokenRegistration _link;

    private HandlerDeadline(CancellationTokenSource timeout, CancellationTokenRegistration link)
    {
        _timeout = timeout;
        _link = link;
    }

    public bool IsActive => _timeout is not null;

    /// <summary>The handler's token: this deadline's when active, otherwise <paramref name="connectionToken"/>.</summary>
    public CancellationToken TokenOr(CancellationToken connectionToken) => _timeout?.Token ?? connectionToken;

    public static HandlerDeadline Start(TimeSpan timeout, TimeProvider timeProvider, CancellationToken connectionToken)
    {
        if (timeout == Timeout.InfiniteTimeSpan)
        {
            return default;
        }

        var source = new CancellationTokenSource(timeout, timeProvider);
        var link = connectionToken.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), source);
        return new HandlerDeadline(source, link);
    }

    /// <summary>Whether the timeout expired, as opposed to the connection ending (which also cancels the token).</summary>
    public bool HasExpired(CancellationToken connectionToken)
        => _timeout is { IsCancellationRequested: true } && !connectionToken.IsCancellationRequested;

    public void Dispose()
    {
        _link.Dispose();
        _timeout?.Dispose();
    }
}
