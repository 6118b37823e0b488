using System.Runtime.InteropServices;

namespace OfflineTasks.Gate.MySql;

/// <summary>A Connector/C connection (<c>MYSQL*</c> from <c>mysql_init</c>), closed with <c>mysql_close</c>, connected or not.</summary>
internal sealed class MariaDbConnectionHandle : SafeHandle
{
    public MariaDbConnectionHandle()
        : base(IntPtr.Zero, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == IntPtr.Zero;

    protected override bool ReleaseHandle()
    {
        MariaDbNative.mysql_close(handle);
        return true;
    }
}
