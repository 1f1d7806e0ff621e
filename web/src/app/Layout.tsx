import { NavLink, Outlet } from 'react-router-dom';
import { CoreStatus } from '../features/readiness/CoreStatus';

/** Top bar and the routed page below it. */
export function Layout() {
  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <NavLink to="/hosts" className="brand">
          <svg className="brand-mark" width="20" height="20" viewBox="0 0 32 32" aria-hidden="true">
            <circle cx="16" cy="16" r="13" fill="none" strokeWidth="3" />
            <circle cx="16" cy="16" r="6" fill="none" strokeWidth="2" />
            <path d="M16 16 L26 7" strokeWidth="3" strokeLinecap="round" />
          </svg>
          ServiceRadar
        </NavLink>
        <nav aria-label="Main">
          <ul className="nav">
            <li>
              <NavLink to="/hosts" className="nav-link">
                Hosts
              </NavLink>
            </li>
            <li>
              <NavLink to="/search" className="nav-link">
                Search
              </NavLink>
            </li>
          </ul>
        </nav>
        <CoreStatus />
      </header>
      <Outlet />
    </>
  );
}
