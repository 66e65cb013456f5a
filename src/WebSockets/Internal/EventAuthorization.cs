using System.Reflection;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.DependencyInjection;

namespace WebSockets.Internal;

/// <summary>
/// Per-event authorization: <c>[Authorize]</c> on a controller, on one of its methods, or on an event handler
/// lambda, checked against the connection's user before each message runs. <c>[AllowAnonymous]</c> on a method
/// lifts its controller's requirement.
/// </summary>
internal static class EventAuthorization
{
    /// <summary>The authorization data of a handler, or null when anyone may send the event.</summary>
    public static IAuthorizeData[]? Find(MethodInfo method, Type? controllerType)
    {
        var onMethod = method.GetCustomAttributes(inherit: true);
        if (onMethod.OfType<IAllowAnonymous>().Any())
        {
            return null;
        }

        var onController = controllerType?.GetCustomAttributes(inherit: true) ?? [];
        var methodData = onMethod.OfType<IAuthorizeData>().ToArray();
        if (methodData.Length == 0 && onController.OfType<IAllowAnonymous>().Any())
        {
            return null;
        }

        IAuthorizeData[] data = [.. onController.OfType<IAuthorizeData>(), .. methodData];
        return data.Length == 0 ? null : data;
    }

    /// <summary>
    /// Fails at start-up, with the fix, when an event's authorization can't be met as written: the app did not add
    /// authorization, a named policy does not exist, or the attribute or policy names authentication schemes. Schemes
    /// are not re-run per message: an event is authorized against the user the connection authenticated as.
    /// </summary>
    public static void Validate(IServiceProvider services, IAuthorizeData[] data, string source)
    {
        if (services.GetService<IAuthorizationPolicyProvider>() is not { } policyProvider)
        {
            throw new InvalidOperationException(
                $"{source} has [Authorize], but authorization services are not registered. Call 'builder.Services.AddAuthorization()'.");
        }

        AuthorizationPolicy? policy;
        try
        {
            // At start-up, once: the default policy provider answers synchronously.
            policy = AuthorizationPolicy.CombineAsync(policyProvider, data).GetAwaiter().GetResult();
        }
        catch (InvalidOperationException ex)
        {
            throw new InvalidOperationException($"{source} has [Authorize] that can't be resolved: {ex.Message}", ex);
        }

        if (policy is { AuthenticationSchemes.Count: > 0 })
        {
            throw new InvalidOperationException(
                $"{source} has [Authorize] with authentication schemes ({string.Join(", ", policy.AuthenticationSchemes)}). An event is authorized against the user its connection authenticated as; require the schemes on the endpoint instead: '.RequireAuthorization(…)'.");
        }
    }

    /// <summary>Fails at start-up for <c>[Authorize]</c> on a raw or binary handler, which has no per-message check.</summary>
    public static void RefuseOnRawHandler(Delegate handler, string source)
    {
        if (Find(handler.Method, controllerType: null) is not null)
        {
            throw new InvalidOperationException(
                $"{source} has [Authorize], which applies to event handlers only. Authorize the endpoint instead: '.RequireAuthorization(…)'.");
        }
    }

    /// <summary>Whether the connection's current user meets the combined policy. The connection is the resource.</summary>
    public static async ValueTask<bool> IsAuthorizedAsync(IServiceProvider services, ISocketConnection connection, IAuthorizeData[] data)
    {
        var policyProvider = services.GetRequiredService<IAuthorizationPolicyProvider>();
        var policy = await AuthorizationPolicy.CombineAsync(policyProvider, data);
        if (policy is null)
        {
            return true;
        }

        var authorization = services.GetRequiredService<IAuthorizationService>();
        var result = await authorization.AuthorizeAsync(connection.User, connection, policy);
        return result.Succeeded;
    }
}
