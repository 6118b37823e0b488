using System.Runtime.InteropServices;

namespace OfflineTasks.Gate.MySql;

/// <summary>A stored result (<c>MYSQL_RES*</c> from <c>mysql_store_result</c>), freed with <c>mysql_free_result</c>.</summary>
internal sealed class MariaDbResultHandle : SafeHandle
{
    public MariaDbResultHandle()
        : base(IntPtr.Zero, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == IntPtr.Zero;

    protected override bool ReleaseHandle()
    {
        MariaDbNative.mysql_free_result(handle);
        return true;
    }
}
