using System.Net.WebSockets;
using System.Security.Claims;
using System.Text.Json;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace WebSockets.Internal;

/// <summary>
/// Authentication over a connection's life: closing it when its authentication expires, and the in-band
/// <c>$auth</c> token refresh that pushes the expiry back without reconnecting.
/// </summary>
internal sealed partial class SocketConnection
{
    /// <summary>The longest token a <c>$auth</c> request may carry.</summary>
    internal const int MaxTokenLength = 16 * 1024;

    private static readonly string?[] s_defaultScheme = [null];

    private readonly Lock _expiryLock = new();
    private ITimer? _expiryTimer;
    private DateTimeOffset? _expiresAt;
    private bool _expiryStopped;

    /// <summary>The scheme that authenticated the upgrade request, if one did (set at the handshake).</summary>
    internal string? AuthenticationScheme { get; init; }

    /// <summary>The endpoint's metadata, whose authorization a refreshed token must still meet (set at the handshake).</summary>
    internal EndpointMetadataCollection? EndpointMetadata { get; init; }

    /// <summary>When the upgrade request's authentication expires, if it does (set at the handshake).</summary>
    internal DateTimeOffset? AuthenticationExpiresAt
    {
        get
        {
            lock (_expiryLock)
            {
                return _expiresAt;
            }
        }

        init => _expiresAt = value;
    }

    private static IHeaderDictionary WithoutAuthorization(IHeaderDictionary headers)
    {
        if (!headers.ContainsKey(HeaderNames.Authorization))
        {
            return headers;
        }

        var copy = new HeaderDictionary();
        foreach (var (key, value) in headers)
        {
            if (!string.Equals(key, HeaderNames.Authorization, StringComparison.OrdinalIgnoreCase))
            {
                copy[key] = value;
            }
        }

        return copy;
    }

    private static IQueryCollection WithoutAccessToken(IQueryCollection query)
    {
        if (!query.ContainsKey(WebSocketHttpContextExtensions.AccessTokenQueryParameter))
        {
            return query;
        }

        var copy = new Dictionary<string, StringValues>(StringComparer.OrdinalIgnoreCase);
        foreach (var (key, value) in query)
        {
            if (!string.Equals(key, WebSocketHttpContextExtensions.AccessTokenQueryParameter, StringComparison.OrdinalIgnoreCase))
            {
                copy[key] = value;
            }
        }

        return new QueryCollection(copy);
    }

    private void StartAuthenticationExpiry()
    {
        lock (_expiryLock)
        {
            ScheduleExpiry();
        }
    }

    private async ValueTask StopAuthenticationExpiryAsync()
    {
        ITimer? timer;
        lock (_expiryLock)
        {
            _expiryStopped = true;
            timer = _expiryTimer;
            _expiryTimer = null;
        }

        if (timer is not null)
        {
            await timer.DisposeAsync();
        }
    }

    /// <summary>Arms (or re-arms) the expiry timer for <see cref="_expiresAt"/>. Runs under the lock.</summary>
    private void ScheduleExpiry()
    {
        if (_expiryStopped || !_endpoint.CloseOnAuthenticationExpiration)
        {
            return;
        }

        if (_expiresAt is not { } expiresAt)
        {
            _expiryTimer?.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            return;
        }

        var due = expiresAt - _timeProvider.GetUtcNow();
        if (due < TimeSpan.Zero)
        {
            due = TimeSpan.Zero;
        }

        if (_expiryTimer is null)
        {
            _expiryTimer = _timeProvider.CreateTimer(static s => ((SocketConnection)s!).OnExpiryTimer(), this, due, Timeout.InfiniteTimeSpan);
        }
        else
        {
            _expiryTimer.Change(due, Timeout.InfiniteTimeSpan);
        }
    }

    private void OnExpiryTimer()
    {
        DateTimeOffset expiredAt;
        lock (_expiryLock)
        {
            if (_expiryStopped || _expiresAt is not { } expiresAt)
            {
                return;
            }

            if (expiresAt > _timeProvider.GetUtcNow())
            {
                // A refresh moved the expiry while this callback was on its way.
                ScheduleExpiry();
                return;
            }

            expiredAt = expiresAt;
        }

        Log.AuthenticationExpired(_logger, Id, expiredAt);
        RequestClose(WebSocketCloseStatus.PolicyViolation, "Authentication expired.", DisconnectReason.AuthenticationExpired, drain: true);
    }

    /// <summary>
    /// Handles <c>$auth</c>: authenticates the new token with the endpoint's scheme, checks that it names the same user,
    /// then takes its principal and its expiry. Refusals throw <see cref="SocketRequestException"/>, which the
    /// dispatcher turns into an error reply; the connection stays as it was.
    /// </summary>
    internal async Task RefreshAuthenticationAsync(JsonElement data, CancellationToken cancellationToken)
    {
        if (data.ValueKind != JsonValueKind.Object
            || !data.TryGetProperty("token", out var tokenElement)
            || tokenElement.ValueKind != JsonValueKind.String
            || tokenElement.GetString() is not { Length: > 0 and <= MaxTokenLength } token)
        {
            throw new SocketRequestException(ErrorNotice.BadData, $"The data must be {{\"token\":\"…\"}} with a token of 1 to {MaxTokenLength} characters.");
        }

        if (UserId is not { } userId || User.Identity?.IsAuthenticated != true)
        {
            throw new SocketRequestException(ErrorNotice.Forbidden, "Only a connection whose user was authenticated, with a user ID, can refresh its token.");
        }

        var services = _registry.Services;
        if (services.GetService<IAuthenticationService>() is null)
        {
            throw new SocketRequestException(ErrorNotice.Unauthorized, "The server has no authentication to check the token with.");
        }

        await using var scope = services.CreateAsyncScope();
        var request = RefreshRequest(scope.ServiceProvider, token);
        // A policy with several schemes authenticates the upgrade as "A;B": try each, as the policy evaluator did.
        var named = (_endpoint.TokenRefreshScheme ?? AuthenticationScheme)?.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        IReadOnlyList<string?> schemes = named is { Length: > 0 } ? named : s_defaultScheme;
        var result = AuthenticateResult.NoResult();
        try
        {
            foreach (var scheme in schemes)
            {
                result = await request.AuthenticateAsync(scheme);
                if (result.Succeeded)
                {
                    break;
                }
            }
        }
        catch (InvalidOperationException ex)
        {
            // No scheme to check it with: a configuration error of the server, not a bad token.
            Log.TokenRefreshFailed(_logger, Id, ex);
            throw new SocketRequestException(ErrorNotice.Unauthorized, "The server has no authentication scheme to check the token with.");
        }

        if (!result.Succeeded || result.Principal is not { } principal)
        {
            // The failure's details stay in the authentication handler's own log: they can describe the token.
            Log.TokenRefreshRefused(_logger, Id);
            throw new SocketRequestException(ErrorNotice.Unauthorized, "The token was not accepted.");
        }

        request.User = principal;
        if (!string.Equals(_registry.GetUserId(request), userId, StringComparison.Ordinal))
        {
            Log.TokenRefreshRefused(_logger, Id);
            throw new SocketRequestException(ErrorNotice.Forbidden, "The token is for another user: a refresh cannot change the connection's user.");
        }

        if (!await MeetsEndpointAuthorizationAsync(scope.ServiceProvider, request, principal))
        {
            Log.TokenRefreshRefused(_logger, Id);
            throw new SocketRequestException(ErrorNotice.Forbidden, "The token does not meet the endpoint's authorization policy.");
        }

        var expiresAt = result.Properties?.ExpiresUtc;
        lock (_expiryLock)
        {
            if (expiresAt is null && _expiresAt is not null && _endpoint.CloseOnAuthenticationExpiration)
            {
                Log.TokenRefreshRefused(_logger, Id);
                throw new SocketRequestException(ErrorNotice.Unauthorized, "The token has no expiry: a refresh cannot lift the connection's expiry.");
            }

            Volatile.Write(ref _user, principal);
            _expiresAt = expiresAt;
            ScheduleExpiry();
        }

        Log.TokenRefreshed(_logger, Id, expiresAt);
    }

    /// <summary>
    /// A request like the upgrade request, as far as the connection kept it (headers, query, remote address), that
    /// carries the new token: authentication checks it, and <see cref="SocketRegistryOptions.UserIdProvider"/> and the
    /// endpoint's policies see the same request they saw at the handshake.
    /// </summary>
    private DefaultHttpContext RefreshRequest(IServiceProvider services, string token)
    {
        var request = new DefaultHttpContext { RequestServices = services };
        foreach (var (key, value) in Headers)
        {
            request.Request.Headers[key] = value;
        }

        request.Request.Headers.Authorization = "Bearer " + token;
        request.Request.QueryString = QueryString.Create(Query);
        request.Connection.RemoteIpAddress = RemoteIpAddress;
        return request;
    }

    /// <summary>Whether the new principal still meets the endpoint's <c>RequireAuthorization</c> policies.</summary>
    private async ValueTask<bool> MeetsEndpointAuthorizationAsync(IServiceProvider services, HttpContext request, ClaimsPrincipal principal)
    {
        if (EndpointMetadata is not { } metadata
            || metadata.GetMetadata<IAllowAnonymous>() is not null
            || services.GetService<IAuthorizationPolicyProvider>() is not { } policyProvider)
        {
            return true;
        }

        var policy = await AuthorizationPolicy.CombineAsync(policyProvider, metadata.GetOrderedMetadata<IAuthorizeData>(), metadata.GetOrderedMetadata<AuthorizationPolicy>());
        if (policy is null)
        {
            return true;
        }

        var result = await services.GetRequiredService<IAuthorizationService>().AuthorizeAsync(principal, request, policy);
        return result.Succeeded;
    }
}
