using System.Diagnostics.CodeAnalysis;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using WebSockets;
using WebSockets.Internal;

namespace Microsoft.AspNetCore.Builder;

/// <summary>
/// Maps the admin endpoint of the <see cref="ISocketRegistry"/>: a live dashboard and its JSON.
/// </summary>
public static class WebSocketAdminEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps an admin endpoint for the WebSocket connections of this app, as a route group under
    /// <paramref name="pattern"/>: <c>GET {pattern}</c> is a dashboard page that refreshes every 2 seconds;
    /// <c>GET {pattern}/stats</c> is JSON with live stats (connections on this server and in the cluster, namespaces,
    /// the largest rooms, message rates, send-queue depths, drops and refusals, the backplane and its health);
    /// <c>GET {pattern}/connections?namespace=&amp;room=&amp;search=&amp;take=</c> is a page of this server's connections;
    /// and <c>POST {pattern}/connections/{id}/disconnect</c> closes a connection on whichever server holds it (202, or
    /// 404 when no server has it). See docs/admin.md.
    /// </summary>
    /// <remarks>
    /// <para>Secure by default: the group requires an authenticated user. Add a policy on the returned builder
    /// (<c>.RequireAuthorization("admins")</c>), which applies on top; only <c>.AllowAnonymous()</c>, for local
    /// development, lifts the requirement. The app must call <c>AddAuthorization()</c> and add an authentication
    /// scheme.</para>
    /// <para>The POST must carry the <c>X-WebSockets-Admin</c> header (the dashboard sends it) and is refused with 400
    /// without it, and with 403 from another site, so a cross-site form or link can't disconnect anyone. Responses
    /// are never cached, and the page allows no script or resource but its own.</para>
    /// <para>Mapping the endpoint starts an in-process listener on the library's <c>WebSockets</c> meter, from
    /// which the totals and rates are computed: one callback per message, with no allocation. Totals count from the
    /// moment it is mapped.</para>
    /// </remarks>
    /// <param name="endpoints">The endpoint route builder.</param>
    /// <param name="pattern">The route prefix, such as <c>"/admin/sockets"</c>.</param>
    /// <param name="configure">Configures what the endpoint may return and do; the defaults are in <see cref="WebSocketAdminOptions"/>.</param>
    /// <returns>The route group's builder, for <c>RequireAuthorization(policy)</c>, <c>RequireHost</c> and other conventions.</returns>
    public static IEndpointConventionBuilder MapWebSocketAdmin(this IEndpointRouteBuilder endpoints, [StringSyntax("Route")] string pattern, Action<WebSocketAdminOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(pattern);

        var services = endpoints.ServiceProvider;
        var registry = WebSocketEndpointRouteBuilderExtensions.GetRegistry(services);
        if (services.GetService<IAuthorizationService>() is null)
        {
            throw new InvalidOperationException(
                $"The WebSocket admin endpoint '{pattern}' requires authorization: call 'builder.Services.AddAuthorization()' and add an authentication scheme. For local development only, '.AllowAnonymous()' on the endpoint lifts the requirement (AddAuthorization() is still needed).");
        }

        var options = new WebSocketAdminOptions();
        configure?.Invoke(options);

        var monitor = new SocketAdminMonitor(registry.Metrics, registry.TimeProvider);
        services.GetService<IHostApplicationLifetime>()?.ApplicationStopped.Register(monitor.Dispose);
        var admin = new SocketAdminEndpoints(registry, monitor, options, services, services.GetRequiredService<ILoggerFactory>().CreateLogger<SocketAdminEndpoints>());

        var group = endpoints.MapGroup(pattern);
        group.RequireAuthorization();
        group.MapGet("/", admin.DashboardAsync).WithDisplayName($"WebSocket admin {pattern}");
        group.MapGet("/stats", admin.StatsAsync).WithDisplayName($"WebSocket admin {pattern}/stats");
        group.MapGet("/connections", admin.ConnectionsAsync).WithDisplayName($"WebSocket admin {pattern}/connections");
        if (options.AllowDisconnect)
        {
            group.MapPost("/connections/{id}/disconnect", admin.DisconnectAsync).WithDisplayName($"WebSocket admin {pattern}/connections/{{id}}/disconnect");
        }

        return group;
    }
}
