using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using Microsoft.Extensions.DependencyInjection;

namespace WebSockets.Internal;

/// <summary>Finds a controller's events and hooks once, at start-up, and binds them.</summary>
internal static class ControllerBinder
{
    public static string GetNamespace(Type controllerType)
        => controllerType.GetCustomAttribute<SocketNamespaceAttribute>()?.Name ?? SocketRegistryOptions.DefaultNamespace;

    /// <summary>The message of the <see cref="RequiresUnreferencedCodeAttribute"/> on entry points that map controllers.</summary>
    public const string RequiresUnreferencedCodeMessage =
        "Finds the controller's methods and binds their parameters by reflection, and their data and reply types are serialized with the " +
        "application's JsonSerializerOptions. In trimmed or Native AOT apps, map a namespace and use the typed On<TData> overloads.";

    [RequiresUnreferencedCode(RequiresUnreferencedCodeMessage)]
    [RequiresDynamicCode(HandlerBinder.RequiresDynamicCodeMessage)]
    public static void Register(Type controllerType, NamespaceState ns, IServiceProvider services)
    {
        if (controllerType.IsAbstract || !typeof(SocketController).IsAssignableFrom(controllerType))
        {
            throw new InvalidOperationException($"{controllerType.Name} must be a non-abstract class deriving from {nameof(SocketController)}.");
        }

        var factory = ActivatorUtilities.CreateFactory(controllerType, Type.EmptyTypes);
        object CreateTarget(IServiceProvider scope, ISocketConnection connection)
        {
            var controller = (SocketController)factory(scope, null);
            controller.Connection = connection;
            return controller;
        }

        var events = new Dictionary<string, (MethodInfo Method, EventRegistration Registration)>(StringComparer.Ordinal);
        foreach (var method in controllerType.GetMethods(BindingFlags.Public | BindingFlags.Instance))
        {
            if (!IsEvent(method))
            {
                continue;
            }

            var name = method.GetCustomAttribute<SocketEventAttribute>()?.Name ?? EventName(method.Name);
            SocketNamespaceBuilder.ValidateEventName(name);
            if (events.TryGetValue(name, out var existing))
            {
                throw new InvalidOperationException(
                    $"{controllerType.Name} maps event '{name}' twice: {existing.Method.Name}({Parameters(existing.Method)}) and {method.Name}({Parameters(method)}). Rename one, or name its event with [SocketEvent(\"…\")].");
            }

            var source = $"{controllerType.Name}.{method.Name} (event '{name}')";
            var handler = HandlerBinder.Bind(method, target: null, controllerType, services, rawMessages: false, source);
            var authorization = EventAuthorization.Find(method, controllerType);
            if (authorization is not null)
            {
                EventAuthorization.Validate(services, authorization, source);
            }

            events[name] = (method, new EventRegistration(name, handler, CreateTarget, authorization));
        }

        ns.AddEvents(events.Values.Select(static e => e.Registration), controllerType.Name);

        var scopeFactory = services.GetRequiredService<IServiceScopeFactory>();
        Func<ISocketConnection, CancellationToken, Task>? connected = Overrides(controllerType, nameof(SocketController.OnConnectedAsync))
            ? async (connection, ct) =>
            {
                await using var scope = scopeFactory.CreateAsyncScope();
                var controller = (SocketController)CreateTarget(scope.ServiceProvider, connection);
                try
                {
                    await controller.OnConnectedAsync(ct);
                }
                finally
                {
                    await DisposeAsync(controller);
                }
            }
            : null;
        Func<ISocketConnection, DisconnectReason, CancellationToken, Task>? disconnected = Overrides(controllerType, nameof(SocketController.OnDisconnectedAsync))
            ? async (connection, reason, ct) =>
            {
                await using var scope = scopeFactory.CreateAsyncScope();
                var controller = (SocketController)CreateTarget(scope.ServiceProvider, connection);
                try
                {
                    await controller.OnDisconnectedAsync(reason, ct);
                }
                finally
                {
                    await DisposeAsync(controller);
                }
            }
            : null;
        ns.AddHooks(connected, disconnected);
    }

    /// <summary>Disposes a controller made for one message or hook.</summary>
    public static ValueTask DisposeAsync(object? controller)
    {
        switch (controller)
        {
            case IAsyncDisposable asyncDisposable:
                return asyncDisposable.DisposeAsync();
            case IDisposable disposable:
                disposable.Dispose();
                return default;
            default:
                return default;
        }
    }

    /// <summary>"JoinRoomAsync" → "joinRoom".</summary>
    internal static string EventName(string methodName)
    {
        var name = methodName.EndsWith("Async", StringComparison.Ordinal) && methodName.Length > 5 ? methodName[..^5] : methodName;
        return char.ToLowerInvariant(name[0]) + name[1..];
    }

    private static bool IsEvent(MethodInfo method)
        => !method.IsSpecialName
            && !method.IsGenericMethodDefinition
            && method.DeclaringType is { } declaring
            && declaring != typeof(object)
            && declaring != typeof(SocketController)
            && method.GetBaseDefinition().DeclaringType != typeof(SocketController)
            && method.GetBaseDefinition().DeclaringType != typeof(object)
            && method.GetCustomAttribute<SocketIgnoreAttribute>() is null
            && !(typeof(IDisposable).IsAssignableFrom(declaring) && method.Name == nameof(IDisposable.Dispose) && method.GetParameters().Length == 0)
            && !(typeof(IAsyncDisposable).IsAssignableFrom(declaring) && method.Name == nameof(IAsyncDisposable.DisposeAsync) && method.GetParameters().Length == 0);

    [RequiresUnreferencedCode(RequiresUnreferencedCodeMessage)]
    private static bool Overrides(Type controllerType, string methodName)
        => controllerType.GetMethod(methodName, BindingFlags.Public | BindingFlags.Instance)?.DeclaringType != typeof(SocketController);

    private static string Parameters(MethodInfo method) => string.Join(", ", method.GetParameters().Select(static p => p.ParameterType.Name));
}
