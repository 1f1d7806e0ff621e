import { Link } from 'react-router-dom';
import { usePageTitle } from '../shared/hooks/usePageTitle';

export function NotFoundPage() {
  usePageTitle('Not found');
  return (
    <main className="page" id="main">
      <div className="state">
        <h1 className="state-title">Page not found</h1>
        <p className="state-text">
          Nothing lives at this address. <Link to="/hosts">Go to the host list</Link>.
        </p>
      </div>
    </main>
  );
}
