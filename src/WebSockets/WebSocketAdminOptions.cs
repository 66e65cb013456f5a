namespace WebSockets;

/// <summary>
/// Options of the admin endpoint mapped by <c>MapWebSocketAdmin</c>: how much its answers may hold, and whether it
/// may disconnect connections.
/// </summary>
public sealed class WebSocketAdminOptions
{
    /// <summary>
    /// Gets or sets how many rooms the stats list, largest first (the total count of rooms is always given).
    /// From 1 to 10 000. The default is 20.
    /// </summary>
    public int MaxRooms
    {
        get;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, 10_000);
            field = value;
        }
    } = 20;

    /// <summary>
    /// Gets or sets the most connections one page of <c>GET {pattern}/connections</c> returns; a larger <c>take</c>
    /// gets 400. From 1 to 10 000. The default is 500 (and <c>take</c> defaults to 100, or this if smaller).
    /// </summary>
    public int MaxConnectionsPerPage
    {
        get;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, 10_000);
            field = value;
        }
    } = 500;

    /// <summary>
    /// Gets or sets whether <c>POST {pattern}/connections/{id}/disconnect</c> is mapped, so that the dashboard can
    /// close a connection on any server of the cluster. <see langword="false"/> makes the endpoint read-only.
    /// The default is <see langword="true"/>.
    /// </summary>
    public bool AllowDisconnect { get; set; } = true;
}
