using System.Globalization;
using System.Net.WebSockets;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;

namespace WebSockets.Internal;

/// <summary>
/// The request handlers of the admin endpoint (docs/admin.md): the dashboard page, the stats, a page of this server's
/// connections, and disconnecting a connection anywhere in the cluster. Authorization is the route group's; the
/// handlers add what a browser needs: no caching, no sniffing, no framing, and a custom header on the one POST so that
/// another site can't trigger it.
/// </summary>
internal sealed partial class SocketAdminEndpoints(
    SocketRegistry registry,
    SocketAdminMonitor monitor,
    WebSocketAdminOptions options,
    IServiceProvider services,
    ILogger logger)
{
    /// <summary>The header every POST must carry. A cross-site form can't set it, and a cross-site fetch can't without a CORS preflight.</summary>
    public const string RequestHeaderName = "X-WebSockets-Admin";

    internal const string DisconnectDescription = "Disconnected by an administrator.";

    /// <summary>Health checks run at most this often; the dashboard polls more often than that.</summary>
    private static readonly TimeSpan s_healthCacheDuration = TimeSpan.FromSeconds(5);

    /// <summary>How long a stats request waits for the health checks.</summary>
    private static readonly TimeSpan s_healthTimeout = TimeSpan.FromSeconds(5);

    private const int DefaultTake = 100;

    private readonly Lock _healthLock = new();
    private Task<HealthReport>? _health;
    private long _healthTimestamp;

    // ---- GET {pattern} -------------------------------------------------------------------------------------

    public Task DashboardAsync(HttpContext context)
    {
        var response = context.Response;
        SetSecurityHeaders(response);
        response.Headers.ContentSecurityPolicy = SocketAdminDashboard.ContentSecurityPolicy;
        response.Headers["X-Frame-Options"] = "DENY";
        response.Headers["Referrer-Policy"] = "no-referrer";
        response.ContentType = "text/html; charset=utf-8";
        response.ContentLength = SocketAdminDashboard.Html.Length;
        return response.Body.WriteAsync(SocketAdminDashboard.Html, context.RequestAborted).AsTask();
    }

    // ---- GET {pattern}/stats -------------------------------------------------------------------------------

    public async Task StatsAsync(HttpContext context)
    {
        var cancellationToken = context.RequestAborted;
        var counts = await registry.GetCountsAsync(cancellationToken);
        var backplane = await GetBackplaneAsync(cancellationToken);
        var now = registry.TimeProvider.GetUtcNow();

        long queuedTotal = 0;
        var maxQueuedTotal = 0;
        var namespaces = new List<AdminNamespace>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var ns in registry.NamespaceStates)
        {
            long queued = 0;
            var maxQueued = 0;
            foreach (var (_, connection) in ns.Connections)
            {
                var depth = connection.QueuedMessages;
                queued += depth;
                maxQueued = Math.Max(maxQueued, depth);
            }

            queuedTotal += queued;
            maxQueuedTotal = Math.Max(maxQueuedTotal, maxQueued);
            seen.Add(ns.Name);
            namespaces.Add(new AdminNamespace(
                ns.Name,
                ns.Count,
                counts.Value.Namespaces.GetValueOrDefault(ns.Name),
                queued,
                maxQueued,
                monitor.MessagesReceived.Of(ns.Name),
                monitor.MessagesSent.Of(ns.Name),
                monitor.Dropped.Of(ns.Name)));
        }

        // Namespaces that only other servers have (a rolling deploy that added one).
        foreach (var (name, count) in counts.Value.Namespaces)
        {
            if (seen.Add(name))
            {
                namespaces.Add(new AdminNamespace(name, 0, count, 0, 0, 0, 0, 0));
            }
        }

        namespaces.Sort(static (a, b) => string.CompareOrdinal(a.Name, b.Name));

        var rooms = counts.Value.Rooms
            .OrderByDescending(static r => r.Value)
            .ThenBy(static r => r.Key, StringComparer.Ordinal)
            .Take(options.MaxRooms)
            .Select(r => new AdminRoom(r.Key, r.Value, registry.GetLocalRoomMemberCount(r.Key)))
            .ToList();

        var rates = monitor.GetRates();
        var stats = new AdminStats(
            registry.ServerId,
            registry.IsClustered,
            registry.IsStopping,
            now,
            registry.StartedAt,
            registry.StartedAt is { } started ? Math.Max(0, (now - started).TotalSeconds) : 0,
            options.AllowDisconnect,
            new AdminConnections(registry.Count, counts.Value.Connections, counts.IsComplete, counts.MissingServers, monitor.Connects.Total),
            namespaces,
            new AdminRooms(counts.Value.Rooms.Count, rooms),
            new AdminMessages(
                monitor.Since,
                monitor.MessagesReceived.Total,
                monitor.MessagesSent.Total,
                monitor.BytesReceived.Total,
                monitor.BytesSent.Total,
                Math.Round(rates.MessagesReceived, 2),
                Math.Round(rates.MessagesSent, 2),
                Math.Round(rates.BytesReceived, 2),
                Math.Round(rates.BytesSent, 2),
                Math.Round(rates.WindowSeconds, 2)),
            new AdminQueues(queuedTotal, maxQueuedTotal, registry.Options.SendQueueCapacity, FullModeName(registry.Options.SendQueueFullMode)),
            new AdminProblems(
                monitor.Dropped.Total,
                monitor.Discarded.Total,
                monitor.HandlerTimeouts.Total,
                monitor.RejectedConnections.ByTag(),
                monitor.RejectedMessages.ByTag(),
                monitor.Disconnects.ByTag()),
            backplane);

        await WriteJsonAsync(context, StatusCodes.Status200OK, stats, SocketAdminJsonContext.Default.AdminStats);
    }

    private static string FullModeName(SendQueueFullMode mode) => mode switch
    {
        SendQueueFullMode.Close => "close",
        SendQueueFullMode.Wait => "wait",
        SendQueueFullMode.DropNewest => "dropNewest",
        SendQueueFullMode.DropOldest => "dropOldest",
        _ => mode.ToString(),
    };

    private async Task<AdminBackplane> GetBackplaneAsync(CancellationToken cancellationToken)
    {
        var type = registry.Backplane.GetType().Name;
        if (services.GetService<HealthCheckService>() is not { } healthChecks)
        {
            return new AdminBackplane(type, registry.IsClustered, null, null);
        }

        Task<HealthReport> running;
        lock (_healthLock)
        {
            var now = registry.TimeProvider.GetTimestamp();
            if (_health is null || _health.IsFaulted || _health.IsCanceled || registry.TimeProvider.GetElapsedTime(_healthTimestamp, now) > s_healthCacheDuration)
            {
                // Not the request's token: the report is shared by the requests of the next few seconds.
                _health = healthChecks.CheckHealthAsync(IsLibraryCheck, CancellationToken.None);
                _healthTimestamp = now;
            }

            running = _health;
        }

        try
        {
            var report = await running.WaitAsync(s_healthTimeout, registry.TimeProvider, cancellationToken);
            var checks = report.Entries
                .OrderBy(static e => e.Key, StringComparer.Ordinal)
                .Select(static e => new AdminHealthCheck(e.Key, e.Value.Status.ToString(), e.Value.Description, Math.Round(e.Value.Duration.TotalMilliseconds, 1)))
                .ToList();
            return new AdminBackplane(type, registry.IsClustered, checks.Count == 0 ? null : report.Status.ToString(), checks);
        }
        catch (TimeoutException)
        {
            return new AdminBackplane(type, registry.IsClustered, "Unknown", [new AdminHealthCheck("(all)", "Unknown", "The health checks did not finish in time.", s_healthTimeout.TotalMilliseconds)]);
        }
    }

    /// <summary>
    /// The checks registered by this library (<c>AddSocketRegistry()</c>) or by the backplane's package (such as
    /// <c>AddRedisBackplane()</c>): their factories are declared in those assemblies. The app's other checks, which may
    /// be costly, never run from here.
    /// </summary>
    private bool IsLibraryCheck(HealthCheckRegistration registration) => IsLibraryCheck(registration, registry.Backplane.GetType());

    internal static bool IsLibraryCheck(HealthCheckRegistration registration, Type backplaneType)
    {
        var assembly = registration.Factory.Method.DeclaringType?.Assembly;
        return assembly is not null
            && (assembly == typeof(SocketRegistry).Assembly || assembly == backplaneType.Assembly);
    }

    // ---- GET {pattern}/connections?namespace=&room=&search=&take= -------------------------------------------

    public Task ConnectionsAsync(HttpContext context)
    {
        var query = context.Request.Query;
        var take = Math.Min(DefaultTake, options.MaxConnectionsPerPage);
        if (query.TryGetValue("take", out var takeValue)
            && (!int.TryParse(takeValue, NumberStyles.None, CultureInfo.InvariantCulture, out take) || take < 1 || take > options.MaxConnectionsPerPage))
        {
            return WriteJsonAsync(context, StatusCodes.Status400BadRequest, new AdminError($"'take' must be a whole number from 1 to {options.MaxConnectionsPerPage}."), SocketAdminJsonContext.Default.AdminError);
        }

        var @namespace = NonEmpty(query["namespace"]);
        var room = NonEmpty(query["room"]);
        var search = NonEmpty(query["search"]);

        IEnumerable<SocketConnection> source;
        if (room is not null)
        {
            source = registry.GetLocalRoomMembers(room) ?? [];
        }
        else if (@namespace is not null)
        {
            source = registry.TryGetNamespace(@namespace, out var ns) ? ns.Connections.Select(static c => c.Value) : [];
        }
        else
        {
            source = registry.NamespaceStates.SelectMany(static ns => ns.Connections.Select(static c => c.Value));
        }

        var page = new List<AdminConnection>(Math.Min(take, 64));
        var count = 0;
        foreach (var connection in source)
        {
            if (!connection.IsRegistered
                || (@namespace is not null && !string.Equals(connection.Namespace, @namespace, StringComparison.Ordinal))
                || (search is not null && !Matches(connection, search)))
            {
                continue;
            }

            count++;
            if (page.Count < take)
            {
                page.Add(new AdminConnection(
                    connection.Id,
                    connection.Namespace,
                    connection.UserId,
                    connection.RemoteIpAddress?.ToString(),
                    [.. connection.Rooms],
                    connection.QueuedMessages,
                    connection.ConnectedAt,
                    connection.SubProtocol));
            }
        }

        return WriteJsonAsync(context, StatusCodes.Status200OK, new AdminConnectionPage(count, page), SocketAdminJsonContext.Default.AdminConnectionPage);
    }

    private static bool Matches(SocketConnection connection, string search)
        => connection.Id.Contains(search, StringComparison.OrdinalIgnoreCase)
            || (connection.UserId?.Contains(search, StringComparison.OrdinalIgnoreCase) ?? false);

    private static string? NonEmpty(StringValues value) => StringValues.IsNullOrEmpty(value) ? null : value.ToString();

    // ---- POST {pattern}/connections/{id}/disconnect --------------------------------------------------------

    public async Task DisconnectAsync(HttpContext context)
    {
        var user = context.User.Identity?.Name;
        if (StringValues.IsNullOrEmpty(context.Request.Headers[RequestHeaderName]))
        {
            Log.RequestRefused(logger, user, $"no {RequestHeaderName} header");
            await WriteJsonAsync(context, StatusCodes.Status400BadRequest,
                new AdminError($"The request must carry the '{RequestHeaderName}' header (the dashboard sends it); a cross-site form can't."),
                SocketAdminJsonContext.Default.AdminError);
            return;
        }

        if (IsCrossSite(context.Request))
        {
            Log.RequestRefused(logger, user, "cross-site origin");
            await WriteJsonAsync(context, StatusCodes.Status403Forbidden, new AdminError("Cross-site requests are refused."), SocketAdminJsonContext.Default.AdminError);
            return;
        }

        var id = context.Request.RouteValues["id"] as string;
        if (string.IsNullOrEmpty(id))
        {
            await WriteJsonAsync(context, StatusCodes.Status400BadRequest, new AdminError("A connection ID is required."), SocketAdminJsonContext.Default.AdminError);
            return;
        }

        var found = await registry.FindMemberAsync(id, context.RequestAborted);
        if (found.Value is null && found.IsComplete)
        {
            await WriteJsonAsync(context, StatusCodes.Status404NotFound, new AdminError("No server holds a connection with this ID."), SocketAdminJsonContext.Default.AdminError);
            return;
        }

        // Found, or maybe on a server that did not answer in time: the disconnect goes wherever the connection is.
        var audience = registry.Connections(id);
        if (found.Value is { } member && string.Equals(member.ServerId, registry.ServerId, StringComparison.Ordinal))
        {
            audience = audience.Local();
        }

        await audience.DisconnectAsync(WebSocketCloseStatus.PolicyViolation, DisconnectDescription);
        Log.Disconnected(logger, id, found.Value?.ServerId, user);
        await WriteJsonAsync(context, StatusCodes.Status202Accepted, new AdminDisconnect(id, found.Value is not null, found.Value?.ServerId), SocketAdminJsonContext.Default.AdminDisconnect);
    }

    /// <summary>A browser's own word (Sec-Fetch-Site), or an Origin whose host differs from the request's.</summary>
    private static bool IsCrossSite(HttpRequest request)
    {
        var site = request.Headers["Sec-Fetch-Site"].ToString();
        if (site is "cross-site" or "same-site")
        {
            return true;
        }

        var origin = request.Headers.Origin.ToString();
        if (origin.Length == 0)
        {
            return false;
        }

        return !Uri.TryCreate(origin, UriKind.Absolute, out var uri)
            || !string.Equals(uri.Authority, request.Host.Value, StringComparison.OrdinalIgnoreCase);
    }

    // ---- Responses -----------------------------------------------------------------------------------------

    private static void SetSecurityHeaders(HttpResponse response)
    {
        response.Headers.CacheControl = "no-store";
        response.Headers.XContentTypeOptions = "nosniff";
    }

    private static Task WriteJsonAsync<T>(HttpContext context, int status, T value, JsonTypeInfo<T> typeInfo)
    {
        context.Response.StatusCode = status;
        SetSecurityHeaders(context.Response);
        return context.Response.WriteAsJsonAsync(value, typeInfo, "application/json; charset=utf-8", context.RequestAborted);
    }

    private static partial class Log
    {
        [LoggerMessage(180, LogLevel.Information, "Connection {ConnectionId} (server {ServerId}) disconnected through the admin endpoint by {User}.", EventName = "AdminDisconnected")]
        public static partial void Disconnected(ILogger logger, string connectionId, string? serverId, string? user);

        [LoggerMessage(181, LogLevel.Warning, "The admin endpoint refused a disconnect request from {User}: {Reason}.", EventName = "AdminRequestRefused")]
        public static partial void RequestRefused(ILogger logger, string? user, string reason);
    }
}
